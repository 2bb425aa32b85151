/**
 * How many patches a random patch mask keeps, and how to say it; no tensors, so the diagram and
 * `nvcc preview-mask` state the same count the trainer draws.
 * In: the patch count L of one image, the mask ratio and the rounding. Out: the kept count, and
 * a sentence "3 of 4 patches removed per image (75%)". Holds afterwards: the removed share is
 * (L - kept) / L, which is not the ratio when L * (1 - ratio) is not an integer (ratio 0.6 of 4
 * patches keeps int(1.6) = 1, so 75% are removed).
 */

/**
 * How the kept count is rounded. 'official' (default): Python's int() of the float64 product
 * L * (1 - ratio), as the official gen_random_mask computes len_keep (L = 100, ratio 0.9 keeps
 * 9, because 1 - 0.9 is 0.09999999999999998 in float64; L = 5, ratio 0.8 keeps 0). 'decimal':
 * the count the decimal ratio means, the product snapped to the nearest integer when within
 * 1e-9 relative of it (100 at 0.9 keeps 10), otherwise truncated.
 */
export type KeptRounding = 'official' | 'decimal';

/** Number of kept (visible) patches out of L for a mask ratio; see KeptRounding. */
export function keptCount(numPatches: number, ratio: number, rounding: KeptRounding = 'official'): number {
  if (!Number.isInteger(numPatches) || numPatches <= 0)
    throw new RangeError(`keptCount: bad patch count ${numPatches}`);
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`keptCount: mask ratio must be in [0, 1], got ${ratio}`);
  const exact = numPatches * (1 - ratio);
  if (rounding === 'decimal') {
    const nearest = Math.round(exact);
    if (Math.abs(exact - nearest) <= 1e-9 * Math.max(1, numPatches)) return nearest;
  }
  return Math.floor(exact);
}

/** `3 of 4 patches removed per image (75%)`: the count the trainer removes, not the ratio. */
export function removedPatchesText(numPatches: number, ratio: number, rounding: KeptRounding = 'official'): string {
  const removed = numPatches - keptCount(numPatches, ratio, rounding);
  const share = (100 * removed) / numPatches;
  const percent = Number.isInteger(share) ? String(share) : share.toFixed(1);
  return `${removed} of ${numPatches} patches removed per image (${percent}%)`;
}
