/**
 * Layout helpers between images and token sequences, and patch (de)composition.
 * In: NHWC images [N,H,W,C] or token tensors [N,L,D]. Out: the other layout.
 * Holds: pure reshape/transpose (rank <= 4), so gradients exist on cpu and wasm; the patch
 * index is row-major (l = i*w + j) and within a patch the element index is
 * (row*p + col)*C + channel (colour fastest), the order of the official FCMAE patchify.
 */
import * as tf from '@tensorflow/tfjs';

/** [N,H,W,C] -> [N,H*W,C] (row-major positions). */
export function tokens(x: tf.Tensor): tf.Tensor3D {
  if (x.rank !== 4) throw new Error(`tokens: expected [N,H,W,C], got [${x.shape.join(', ')}]`);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  return tf.reshape(x, [n, h * w, c]);
}

/** [N,H*W,C] -> [N,H,W,C]. */
export function untokens(x: tf.Tensor, height: number, width: number): tf.Tensor4D {
  if (x.rank !== 3) throw new Error(`untokens: expected [N,L,C], got [${x.shape.join(', ')}]`);
  const [n, l, c] = x.shape as [number, number, number];
  if (l !== height * width) throw new Error(`untokens: ${l} tokens cannot form ${height}x${width}`);
  return tf.reshape(x, [n, height, width, c]);
}

/**
 * [N,H,W,C] -> [N, (H/p)*(W/p), p*p*C]. Same values and order as the official
 * reshape (N,h,p,w,p,C) -> transpose (N,h,w,p,p,C) -> reshape, done with rank-4 tensors only:
 * (N*h, p, w, p*C) -> transpose (0,2,1,3) -> (N*h, w, p, p*C).
 */
export function patchify(x: tf.Tensor, p: number): tf.Tensor3D {
  if (x.rank !== 4) throw new Error(`patchify: expected [N,H,W,C], got [${x.shape.join(', ')}]`);
  const [n, hh, ww, c] = x.shape as [number, number, number, number];
  if (hh % p !== 0 || ww % p !== 0) throw new Error(`patchify: image ${hh}x${ww} is not divisible by patch size ${p}`);
  const h = hh / p;
  const w = ww / p;
  return tf.tidy(() => {
    const rows = tf.reshape(x, [n * h, p, w, p * c]);
    return tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [n, h * w, p * p * c]);
  });
}

/** Inverse of patchify: [N, h*w, p*p*C] -> [N, h*p, w*p, C]. */
export function unpatchify(x: tf.Tensor, p: number, h: number, w: number, channels = 3): tf.Tensor4D {
  if (x.rank !== 3) throw new Error(`unpatchify: expected [N,L,D], got [${x.shape.join(', ')}]`);
  const [n, l, d] = x.shape as [number, number, number];
  if (l !== h * w || d !== p * p * channels)
    throw new Error(`unpatchify: [${x.shape.join(', ')}] is not ${h}x${w} patches of ${p}x${p}x${channels}`);
  return tf.tidy(() => {
    const cells = tf.reshape(x, [n * h, w, p, p * channels]);
    return tf.reshape(tf.transpose(cells, [0, 2, 1, 3]), [n, h * p, w * p, channels]);
  });
}

/**
 * Non-overlapping k x k windows of an NHWC image as vectors: [N,H,W,C] -> [N,H/k,W/k,k*k*C],
 * element order (row*k + col)*C + c, which equals the row-major flattening of a conv filter
 * [k,k,C,out] over its first three axes. Used for kernel == stride convs.
 */
export function spaceToPatches(x: tf.Tensor, k: number): tf.Tensor4D {
  const [n, hh, ww, c] = x.shape as [number, number, number, number];
  const h = hh / k;
  const w = ww / k;
  return tf.tidy(() =>
    tf.reshape(tf.transpose(tf.reshape(x, [n * h, k, w, k * c]), [0, 2, 1, 3]), [n, h, w, k * k * c]),
  );
}
