/**
 * Speed figure for the patient bootstrap: 1000 AUC resamples over 500 patients (target: well
 * under a second on one core). Run: npx tsx bench/metrics-bootstrap.ts
 */
import { bootstrapAucCi, delongCi } from '../runtime/metrics/index.js';
import { createRng } from '../runtime/rng.js';

const rng = createRng(1);
const labels: number[] = [];
const scores: number[] = [];
for (let i = 0; i < 500; i++) {
  const y = rng.uniform() < 0.45 ? 1 : 0;
  labels.push(y);
  scores.push(1 / (1 + Math.exp(-(rng.normal() + 1.5 * y))));
}
bootstrapAucCi(labels, scores, { rng: createRng(0), resamples: 50 }); // warm-up
const t0 = performance.now();
const ci = bootstrapAucCi(labels, scores, { rng: createRng(2), resamples: 1000 });
const t1 = performance.now();
const dl = delongCi(labels, scores);
console.log(`bootstrap AUC CI, 500 patients x 1000 resamples: ${(t1 - t0).toFixed(1)} ms`);
console.log(
  `AUC ${ci.estimate.toFixed(4)}  bootstrap [${ci.lower.toFixed(4)}, ${ci.upper.toFixed(4)}]  DeLong ` +
    `[${dl.lower.toFixed(4)}, ${dl.upper.toFixed(4)}]`,
);
