/**
 * Export of an FCMAE model (the std `FCMAE` program, or any module with the same parameter
 * paths) to the official PyTorch FCMAE state-dict layout, so the official code resumes
 * pre-training from it, decoder included.
 * In: host tensors keyed by nvcc parameter path (`encoder.*`, `decoder.proj.*`,
 * `decoder.mask_token`, `decoder.decoder.<i>.*`, `decoder.pred.*`; NHWC layouts). Out: host
 * tensors keyed by official name in PyTorch layout: `encoder.*` in the sparse MinkowskiEngine
 * layout the official FCMAE model holds (or the dense one released encoders use), `proj.*`,
 * `mask_token` [1, C, 1, 1], `decoder.<i>.*` (dense Block names, GRN (1, 1, 1, C)), `pred.*`.
 * Holds afterwards: importConvNeXtV2 / convertConvNeXtV2State reads the result back to the same
 * values (the conversions are permutations and reshapes only); a path this layout does not
 * know is an error naming it, nothing is dropped silently.
 */
import type { Module } from '../module.js';
import { reshapeHost, transposeHost } from './layout.js';
import { writeSafetensors, type HostTensor } from './safetensors.js';
import { moduleToHost } from './weights.js';

export interface FcmaeExportOptions {
  /**
   * 'minkowski' (default): the encoder as the official FCMAE model stores it (sparse layers:
   * `.kernel` (k*k, in, out) / (k*k, C), `.ln.`, `.linear.`, (1, C) biases and GRN).
   * 'dense': the dense ConvNeXtV2 names and shapes of the released encoder checkpoints.
   */
  readonly encoderLayout?: 'minkowski' | 'dense';
}

/** nvcc layout -> dense PyTorch layout for one parameter (by its nvcc path and rank). */
function toTorchLayout(path: string, t: HostTensor): HostTensor {
  const name = path.slice(path.lastIndexOf('.') + 1);
  if (t.shape.length === 4) {
    // depthwise [k, k, C, 1] -> (C, 1, k, k); conv [kh, kw, in, out] -> (out, in, kh, kw)
    return /(^|\.)dwconv\.weight$/.test(path) ? transposeHost(t, [2, 3, 0, 1]) : transposeHost(t, [3, 2, 0, 1]);
  }
  if (t.shape.length === 2) return transposeHost(t, [1, 0]);
  if (name === 'gamma' || name === 'beta') return reshapeHost(t, [1, 1, 1, t.shape[0]!]);
  if (name === 'mask_token') return reshapeHost(t, [1, t.shape[0]!, 1, 1]);
  return t;
}

/** Dense encoder key and tensor -> the MinkowskiEngine layout of the official sparse encoder. */
function toMinkowski(key: string, t: HostTensor): [string, HostTensor] {
  const parts = key.split('.');
  if (parts[0] === 'stages') {
    if (parts[3] === 'dwconv' && parts[4] === 'weight') {
      // (C, 1, k, k) -> swap the spatial axes -> (C, k*k) -> (k*k, C)
      const [c, , kh, kw] = t.shape as [number, number, number, number];
      return [
        key.replace(/weight$/, 'kernel'),
        transposeHost(reshapeHost(transposeHost(t, [0, 1, 3, 2]), [c, kh * kw]), [1, 0]),
      ];
    }
    if (parts[3] === 'dwconv' || parts[3] === 'grn') return [key, reshapeHost(t, [1, t.data.length])];
    if (parts[3] === 'norm') return [key.replace('.norm.', '.norm.ln.'), t];
    if (parts[3] === 'pwconv1' || parts[3] === 'pwconv2')
      return [key.replace(`.${parts[3]}.`, `.${parts[3]}.linear.`), t];
    return [key, t];
  }
  if (parts[0] === 'downsample_layers' && parts[1] !== '0') {
    if (parts[2] === '0') return [`downsample_layers.${parts[1]}.0.ln.${parts[3]}`, t];
    if (parts[3] === 'weight') {
      // (out, in, k, k) -> swap the spatial axes -> (out, in, k*k) -> (k*k, in, out)
      const [o, i, kh, kw] = t.shape as [number, number, number, number];
      const flat = reshapeHost(transposeHost(t, [0, 1, 3, 2]), [o, i, kh * kw]);
      return [`downsample_layers.${parts[1]}.1.kernel`, transposeHost(flat, [2, 1, 0])];
    }
    return [key, reshapeHost(t, [1, t.data.length])];
  }
  return [key, t];
}

/** The official FCMAE state dict of an nvcc FCMAE model's parameters. */
export function fcmaeToOfficial(
  params: ReadonlyMap<string, HostTensor>,
  options: FcmaeExportOptions = {},
): Map<string, HostTensor> {
  const layout = options.encoderLayout ?? 'minkowski';
  const out = new Map<string, HostTensor>();
  const unknown: string[] = [];
  for (const [path, t] of params) {
    const torch = toTorchLayout(path, t);
    if (path.startsWith('encoder.')) {
      const dense = path.slice('encoder.'.length);
      const [key, v] = layout === 'minkowski' ? toMinkowski(dense, torch) : [dense, torch];
      out.set(`encoder.${key}`, v);
    } else if (/^decoder\.(proj\.|mask_token$|decoder\.\d+\.|pred\.)/.test(path)) {
      out.set(path.slice('decoder.'.length), torch);
    } else unknown.push(path);
  }
  if (unknown.length)
    throw new Error(
      `not an FCMAE model: the official FCMAE layout has no place for ${unknown.join(', ')} ` +
        '(expected encoder.*, decoder.proj.*, decoder.mask_token, decoder.decoder.<i>.*, decoder.pred.*)',
    );
  return out;
}

/** Writes `module`'s parameters as an official FCMAE checkpoint (safetensors); returns the keys. */
export async function saveOfficialFcmae(
  module: Module,
  path: string,
  options: FcmaeExportOptions = {},
): Promise<string[]> {
  const tensors = fcmaeToOfficial(await moduleToHost(module), options);
  writeSafetensors(path, tensors, { format: 'pytorch-fcmae', encoder_layout: options.encoderLayout ?? 'minkowski' });
  return [...tensors.keys()].sort();
}
