/**
 * Shifted-window attention helpers (Swin Transformer, std/swin.nvc).
 * In: NHWC feature maps and a learned relative-position bias table. Out:
 *  - `roll(x, shift, axes)`: cyclic shift, `out[i] = x[(i - shift) mod n]` along each axis
 *    (torch.roll's convention: a positive shift moves elements towards higher indices);
 *  - `relativePositionBias(table, window)`: table [(2w-1)^2, heads] gathered into
 *    [heads, w*w, w*w], entry (h, i, j) = table[index(i, j), h] where index encodes the
 *    row and column offset between window positions i and j (Swin's relative_position_index);
 *  - `shiftWindowMask(x, window, shift)`: the additive attention mask of shifted windows,
 *    [nW, w*w, w*w] with 0 where two positions of a window came from the same region of the
 *    unshifted map and -100 elsewhere; all zeros when shift is 0.
 * Holds afterwards: index and mask constants are computed once per configuration and cached
 * (kept out of tf.tidy), gradients flow through roll (slice + concat) and the bias (gather).
 */
import * as tf from '@tensorflow/tfjs';

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new RangeError(`roll: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function roll(x: tf.Tensor, shift: number, axes: readonly number[]): tf.Tensor {
  return tf.tidy(() => {
    let y = x;
    for (const axis of axes) {
      const a = normAxis(axis, x.rank);
      const n = x.shape[a]!;
      const s = ((shift % n) + n) % n;
      if (s === 0) continue;
      const begin = new Array<number>(x.rank).fill(0);
      const size = [...y.shape];
      // The last s entries move to the front.
      const tailBegin = [...begin];
      tailBegin[a] = n - s;
      const tailSize = [...size];
      tailSize[a] = s;
      const headSize = [...size];
      headSize[a] = n - s;
      y = tf.concat([tf.slice(y, tailBegin, tailSize), tf.slice(y, begin, headSize)], a);
    }
    return y === x ? tf.clone(x) : y;
  });
}

/** Swin's relative_position_index for a w x w window: [w*w * w*w] indices into the table. */
export function relativePositionIndex(window: number): Int32Array {
  const n = window * window;
  const out = new Int32Array(n * n);
  for (let i = 0; i < n; i++) {
    const [ri, ci] = [Math.floor(i / window), i % window];
    for (let j = 0; j < n; j++) {
      const [rj, cj] = [Math.floor(j / window), j % window];
      out[i * n + j] = (ri - rj + window - 1) * (2 * window - 1) + (ci - cj + window - 1);
    }
  }
  return out;
}

const indexCache = new Map<number, tf.Tensor1D>();
const maskCache = new Map<string, tf.Tensor3D>();

function cachedIndex(window: number): tf.Tensor1D {
  let t = indexCache.get(window);
  if (!t || t.isDisposed) {
    t = tf.keep(tf.tensor1d(relativePositionIndex(window), 'int32'));
    indexCache.set(window, t);
  }
  return t;
}

export function relativePositionBias(table: tf.Tensor, window: number): tf.Tensor3D {
  const n = window * window;
  const rows = (2 * window - 1) * (2 * window - 1);
  if (table.rank !== 2 || table.shape[0] !== rows)
    throw new RangeError(
      `relativePositionBias: the table must be [${rows}, heads] for window ${window}, got [${table.shape.join(', ')}]`,
    );
  const heads = table.shape[1]!;
  return tf.tidy(
    () => tf.transpose(tf.reshape(tf.gather(table, cachedIndex(window)), [n, n, heads]), [2, 0, 1]) as tf.Tensor3D,
  );
}

/** The region label (0..8) of every position of the H x W map for a given window and shift. */
function regionLabels(h: number, w: number, window: number, shift: number): Int32Array {
  const band = (i: number, size: number): number => (i < size - window ? 0 : i < size - shift ? 1 : 2);
  const out = new Int32Array(h * w);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) out[r * w + c] = band(r, h) * 3 + band(c, w);
  return out;
}

/** The mask as plain numbers: [nW * n * n], windows in row-major order. */
export function shiftWindowMaskValues(h: number, w: number, window: number, shift: number): Float32Array {
  const n = window * window;
  const nh = h / window;
  const nw = w / window;
  const out = new Float32Array(nh * nw * n * n);
  if (shift === 0) return out;
  const labels = regionLabels(h, w, window, shift);
  for (let wr = 0; wr < nh; wr++)
    for (let wc = 0; wc < nw; wc++) {
      const base = (wr * nw + wc) * n * n;
      const label = (i: number) => labels[(wr * window + Math.floor(i / window)) * w + wc * window + (i % window)]!;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (label(i) !== label(j)) out[base + i * n + j] = -100;
    }
  return out;
}

export function shiftWindowMask(x: tf.Tensor, window: number, shift: number): tf.Tensor3D {
  if (x.rank !== 4) throw new RangeError(`shiftWindowMask: expected an NHWC map, got rank ${x.rank}`);
  const [h, w] = [x.shape[1]!, x.shape[2]!];
  if (h % window !== 0 || w % window !== 0)
    throw new RangeError(`shiftWindowMask: window ${window} does not divide the ${h}x${w} map`);
  const key = `${h}x${w}/${window}/${shift}`;
  let t = maskCache.get(key);
  if (!t || t.isDisposed) {
    const n = window * window;
    t = tf.keep(
      tf.tensor3d(shiftWindowMaskValues(h, w, window, shift), [(h / window) * (w / window), n, n], 'float32'),
    );
    maskCache.set(key, t);
  }
  // A copy, so callers may dispose the result like any other op output.
  return tf.clone(t);
}
