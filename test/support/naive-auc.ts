/**
 * Independent AUC reference for metric tests: every (positive, negative) pair counted, ties
 * as 1/2. Quadratic, and written without sorting so it shares nothing with the runtime's AUC.
 */
export function naiveAuc(labels: readonly number[], scores: readonly number[]): number {
  let num = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      if (scores[i]! > scores[j]!) num += 1;
      else if (scores[i] === scores[j]) num += 0.5;
    }
  }
  return num / pairs;
}
