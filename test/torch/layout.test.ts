/**
 * Weights move between the engines both ways (runtime/io/torch-layout.ts and its Python twin
 * nvcc_layout.py): a tfjs module with a conv, a depthwise conv, a Linear and a GRN is written as a
 * PyTorch state dict, loaded by torch layers (torch.nn's conv and Linear) with strict=True, and
 * gives the tfjs forward output (within 1e-5 of its scale); the torch model written back in the
 * tfjs layout equals the tfjs weights exactly, and both sides give each parameter the same kind.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Conv2d, DepthwiseConv2d } from '../../runtime/layers/conv.js';
import { Linear } from '../../runtime/layers/linear.js';
import { GRN } from '../../runtime/layers/norm.js';
import { readSafetensors, writeSafetensors, type HostTensor } from '../../runtime/io/safetensors.js';
import {
  fromTorch,
  moduleToTorchState,
  moduleTorchLayouts,
  toTorch,
  torchShapeOf,
  torchStateToTfjs,
} from '../../runtime/io/torch-layout.js';
import { moduleToHost, WeightsMismatchError } from '../../runtime/io/weights.js';
import { Module } from '../../runtime/module.js';
import { createRng, fillNormal, seed } from '../../runtime/rng.js';
import { pythonJson, TORCH_TEST_DIR } from '../support/python.js';

class Net extends Module {
  readonly conv = this.child('conv', new Conv2d(3, 4, { kernel: 3, padding: 'same' }));
  readonly dwconv = this.child('dwconv', new DepthwiseConv2d(4, { kernel: 3 }));
  readonly pwconv1 = this.child('pwconv1', new Linear(4, 6));
  readonly grn = this.child('grn', new GRN(6));
}

const ctx = { training: false, rng: createRng(0) };
let dir: string;
let net: Net;

beforeAll(async () => {
  await tf.setBackend('cpu');
  seed(4);
  net = new Net();
  const rng = createRng(9);
  for (const [, p] of net.namedParameters())
    p.variable.assign(tf.tensor(fillNormal(rng, new Float32Array(p.variable.size), 0, 0.5), p.variable.shape));
  dir = mkdtempSync(join(tmpdir(), 'nvcc-torch-layout-'));
  const x = tf.tensor4d(fillNormal(rng, new Float32Array(2 * 5 * 5 * 3)), [2, 5, 5, 3]);
  const y = net.grn.forward(ctx, net.pwconv1.forward(ctx, net.dwconv.forward(ctx, net.conv.forward(ctx, x))));
  const host = (t: tf.Tensor): HostTensor => ({ dtype: 'float32', shape: t.shape, data: t.dataSync() as Float32Array });
  writeSafetensors(join(dir, 'io.safetensors'), { x: host(x), y: host(y) });
  writeSafetensors(join(dir, 'torch-state.safetensors'), await moduleToTorchState(net));
});

describe('torch <-> tfjs weight layout', () => {
  it('torch layers load the exported state strictly and compute the same output; the way back is exact', async () => {
    const out = pythonJson<{ maxAbs: number; scale: number; kinds: Record<string, string> }>([
      join(TORCH_TEST_DIR, 'check_layout.py'),
      dir,
    ]);
    expect(out.scale).toBeGreaterThan(0.1);
    expect(out.maxAbs).toBeLessThanOrEqual(1e-5 * out.scale);
    const tsKinds = moduleTorchLayouts(net);
    expect(Object.keys(out.kinds).sort()).toEqual(
      net
        .namedParameters()
        .map(([k]) => k)
        .sort(),
    );
    for (const [k, kind] of Object.entries(out.kinds)) expect(kind, k).toBe(tsKinds.get(k) ?? 'same');
    const back = readSafetensors(join(dir, 'from-torch.safetensors'));
    const mine = await moduleToHost(net);
    expect([...back.tensors.keys()].sort()).toEqual([...mine.keys()].sort());
    for (const [k, t] of mine) {
      expect(back.tensors.get(k)!.tensor.shape, k).toEqual(t.shape);
      expect(back.tensors.get(k)!.tensor.data, k).toEqual(t.data);
    }
  });

  it('round-trips every kind and refuses a state that does not fit, listing every key', async () => {
    const torchState = await moduleToTorchState(net);
    expect(torchState.get('conv.weight')!.shape).toEqual([4, 3, 3, 3]);
    expect(torchState.get('dwconv.weight')!.shape).toEqual([4, 1, 3, 3]);
    expect(torchState.get('pwconv1.weight')!.shape).toEqual([6, 4]);
    expect(torchState.get('grn.gamma')!.shape).toEqual([6]);
    const back = torchStateToTfjs(net, torchState, 'state');
    const mine = await moduleToHost(net);
    for (const [k, t] of mine) expect(back.get(k)!.data).toEqual(t.data);
    for (const [k, t] of mine) {
      const kind = moduleTorchLayouts(net).get(k) ?? 'same';
      expect(toTorch(t, kind).shape, k).toEqual(torchShapeOf(t.shape, kind));
      expect(fromTorch(toTorch(t, kind), kind).data, k).toEqual(t.data);
    }
    const token = { dtype: 'float32' as const, shape: [4], data: Float32Array.from([1, 2, 3, 4]) };

    const bad = new Map(torchState);
    bad.delete('grn.beta');
    bad.set('pwconv1.weight', mine.get('pwconv1.weight')!);
    bad.set('extra.weight', token);
    let error: unknown;
    try {
      torchStateToTfjs(net, bad, 'bad.safetensors');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WeightsMismatchError);
    const m = error as WeightsMismatchError;
    expect(m.missing).toEqual(['grn.beta']);
    expect(m.unexpected).toEqual(['extra.weight']);
    expect(m.misshaped).toEqual([{ key: 'pwconv1.weight (PyTorch layout)', expected: [6, 4], found: [4, 6] }]);
  });
});
