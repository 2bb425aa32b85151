/**
 * Patch masks for FCMAE-style masked pre-training and the dense emulation of sparse conv.
 * In: grid sizes, a ratio and an Rng, or a mask [N,gh,gw,1] (1 = removed, 0 = visible).
 * Out: masks, keep maps K = 1 - mask at any feature resolution, or features with removed
 * positions zeroed. Holds: masks are float32 0/1, constant over each patch; upsampling is
 * nearest (block repetition) via broadcasting, never tf.tile; masks carry no gradient.
 */
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext, Rng } from '../module.js';
import { type KeptRounding, keptCount } from './kept-count.js';

export { type KeptRounding, keptCount } from './kept-count.js';

export interface PatchGrid {
  readonly gh: number;
  readonly gw: number;
}

/** Patch grid of an image: (H/p, W/p); refuses sizes that are not multiples of p. */
export function patchGrid(height: number, width: number, patchSize: number): PatchGrid {
  if (height % patchSize !== 0 || width % patchSize !== 0)
    throw new Error(`image ${height}x${width} is not divisible by patch size ${patchSize}`);
  return { gh: height / patchSize, gw: width / patchSize };
}

/**
 * Random patch mask [N, H/p, W/p, 1], 1 = removed. Per sample, L Gaussian noises are drawn from
 * `rng` (sample-major), and the keptCount(L, ratio) patches with the smallest noise are kept
 * (ties broken by lower index), the ranking rule of the official gen_random_mask. Each sample is
 * independent. The same rng state always gives the same mask.
 */
export function randomPatchMask(
  batch: number,
  height: number,
  width: number,
  patchSize: number,
  ratio: number,
  rng: Rng,
  rounding: KeptRounding = 'official',
): tf.Tensor4D {
  const { gh, gw } = patchGrid(height, width, patchSize);
  const values = randomMaskValues(batch, gh * gw, ratio, rng, rounding);
  return tf.tensor4d(values, [batch, gh, gw, 1], 'float32');
}

/** The 0/1 values of randomPatchMask as a plain array [N*L] (row-major patch index). */
export function randomMaskValues(
  batch: number,
  numPatches: number,
  ratio: number,
  rng: Rng,
  rounding: KeptRounding = 'official',
): Float32Array {
  const keep = keptCount(numPatches, ratio, rounding);
  const out = new Float32Array(batch * numPatches).fill(1);
  const noise = new Float64Array(numPatches);
  const order = new Array<number>(numPatches);
  for (let n = 0; n < batch; n++) {
    for (let l = 0; l < numPatches; l++) {
      noise[l] = rng.normal();
      order[l] = l;
    }
    order.sort((a, b) => noise[a]! - noise[b]! || a - b);
    for (let r = 0; r < keep; r++) out[n * numPatches + order[r]!] = 0;
  }
  return out;
}

/**
 * Nearest upsampling of a mask [N,gh,gw,1] to [N,H,W,1] where H = f*gh, W = f*gw (each patch
 * cell becomes an f x f block; the official upsample_mask / repeat_interleave). Done as a
 * broadcast multiply [N*gh,1,gw,1,1] * ones[1,f,1,f,1]. Identity when f = 1.
 */
export function upsampleMask(mask: tf.Tensor, height: number, width: number): tf.Tensor4D {
  if (mask.rank !== 4 || mask.shape[3] !== 1)
    throw new Error(`mask must be [N,gh,gw,1], got [${mask.shape.join(', ')}]`);
  const [n, gh, gw] = mask.shape as [number, number, number, number];
  if (height % gh !== 0 || width % gw !== 0 || height / gh !== width / gw)
    throw new Error(`cannot upsample a ${gh}x${gw} patch mask to ${height}x${width}: need one integer factor`);
  const f = height / gh;
  if (f === 1) return tf.clone(mask) as tf.Tensor4D;
  return tf.tidy(() => {
    const cells = tf.reshape(mask, [n * gh, 1, gw, 1, 1]);
    const blocks = tf.mul(cells, tf.ones([1, f, 1, f, 1]));
    return tf.reshape(blocks, [n, height, width, 1]) as tf.Tensor4D;
  });
}

/** Keep map K = 1 - upsampleMask(mask) at the given resolution: 1 = visible. */
export function keepMap(mask: tf.Tensor, height: number, width: number): tf.Tensor4D {
  return tf.tidy(() => tf.sub(1, upsampleMask(mask, height, width)) as tf.Tensor4D);
}

/** The keep map for an NHWC feature map under ctx.mask, or undefined when there is no mask. */
export function keepFor(x: tf.Tensor, ctx: ForwardContext): tf.Tensor4D | undefined {
  if (!ctx.mask) return undefined;
  if (x.rank !== 4) throw new Error(`a masked (sparse) op needs an NHWC feature map, got [${x.shape.join(', ')}]`);
  if (x.shape[0] !== ctx.mask.shape[0])
    throw new Error(`mask batch ${ctx.mask.shape[0]} does not match feature batch ${x.shape[0]}`);
  return keepMap(ctx.mask, x.shape[1]!, x.shape[2]!);
}

/**
 * x with removed positions set to 0 (x * K), or x itself when ctx has no mask. The dense
 * emulation of submanifold sparse conv keeps this invariant before every spatial op.
 */
export function visible(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
  if (!ctx.mask) return x;
  return tf.tidy(() => tf.mul(x, keepFor(x, ctx)!));
}

/** x * keep for an explicit keep map (1 = visible). */
export function applyKeep(x: tf.Tensor, keep: tf.Tensor | undefined): tf.Tensor {
  return keep ? tf.mul(x, keep) : x;
}

/** [N,gh,gw,1] mask -> [N, gh*gw] (row-major patch index), the layout the loss uses. */
export function flattenMask(mask: tf.Tensor): tf.Tensor2D {
  const [n] = mask.shape as [number];
  return tf.reshape(mask, [n, mask.size / n]) as tf.Tensor2D;
}
