/**
 * The torch engine's optimizers against the tfjs ones: the same parameters (decayed, not decayed,
 * frozen), the same gradients, three steps with changing learning rates, with and without
 * global-norm clipping. Parameters after the steps agree within 1e-4 normwise; Lion's update has
 * the same sign wherever its input |beta1 m + (1 - beta1) g| exceeds 1e-6.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeSafetensors, type HostTensor } from '../../runtime/io/safetensors.js';
import { Module, type Parameter } from '../../runtime/module.js';
import { AdamW, Lion, type Optimizer } from '../../runtime/optim/index.js';
import { createRng, fillNormal, seed } from '../../runtime/rng.js';
import { pythonJson, TORCH_TEST_DIR } from '../support/python.js';

const rng = createRng(21);
const normal = (shape: readonly number[]) =>
  tf.tensor(fillNormal(rng, new Float32Array(shape.reduce((a, b) => a * b, 1))), [...shape]);

class Toy extends Module {
  constructor() {
    super();
    this.param('conv.weight', [3, 3, 4, 5], normal);
    this.param('conv.bias', [5], normal, { noDecay: true });
    this.param('head.weight', [5, 2], normal);
    this.param('norm.gamma', [5], normal, { noDecay: true });
    this.param('frozen.weight', [4, 4], normal, { trainable: false });
  }
}

const cases = [
  { name: 'lion', optimizer: { kind: 'lion', beta1: 0.9, beta2: 0.99, weightDecay: 0.05 }, lrs: [1e-3, 5e-4, 2e-3] },
  {
    name: 'lion_clip',
    optimizer: { kind: 'lion', beta1: 0.95, beta2: 0.98, weightDecay: 0.1, clip: 0.5 },
    lrs: [1e-2, 1e-2, 1e-3],
  },
  {
    name: 'adamw',
    optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05 },
    lrs: [1e-3, 3e-3, 2e-3],
  },
  {
    name: 'adamw_clip',
    optimizer: { kind: 'adamw', beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.01, clip: 1.0 },
    lrs: [1e-2, 5e-3, 1e-3],
  },
] as const;

type Checked = Record<string, { normwise: number; signs: { checked: number; agree: number }; groups: unknown }>;

let dir: string;
const tfGroups: Record<string, unknown> = {};

function host(t: tf.Tensor): HostTensor {
  return { dtype: 'float32', shape: t.shape, data: t.dataSync() as Float32Array };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  seed(0);
  dir = mkdtempSync(join(tmpdir(), 'nvcc-torch-optim-'));
  const tensors = new Map<string, HostTensor>();
  const reference = new Toy();
  const params0 = reference.namedParameters();
  for (const [path, p] of params0) tensors.set(`init.${path}`, host(p.variable));
  const gradSteps = cases[0].lrs.map(
    () => new Map(params0.map(([path, p]) => [path, normal(p.variable.shape)] as const)),
  );
  gradSteps.forEach((g, s) => {
    for (const [path, t] of g) tensors.set(`grad${s}.${path}`, host(t));
  });
  for (const c of cases) {
    const model = new Toy();
    const params: Array<[string, Parameter]> = model.namedParameters();
    params.forEach(([path, p]) => p.variable.assign(params0.find(([k]) => k === path)![1].variable));
    const o = c.optimizer;
    const common = { weightDecay: o.weightDecay, ...('clip' in o ? { clipGradNorm: o.clip } : {}) };
    const opt: Optimizer =
      o.kind === 'lion'
        ? new Lion({ ...common, beta1: o.beta1, beta2: o.beta2 })
        : new AdamW({ ...common, beta1: o.beta1, beta2: o.beta2, eps: o.eps });
    c.lrs.forEach((lr, s) => {
      const grads = new Map([...gradSteps[s]!].filter(([path]) => path !== 'frozen.weight'));
      opt.step(grads, params, lr);
      for (const [path, p] of params) tensors.set(`${c.name}.step${s}.${path}`, host(p.variable));
    });
    for (const [path, p] of params) tensors.set(`${c.name}.final.${path}`, host(p.variable));
    tfGroups[c.name] = opt.groups(params);
  }
  writeSafetensors(join(dir, 'case.safetensors'), tensors);
  writeFileSync(
    join(dir, 'case.json'),
    JSON.stringify({
      params: params0.map(([path, p]) => ({ path, noDecay: p.noDecay, trainable: p.trainable })),
      cases,
    }),
  );
});

describe('torch engine optimizers vs tfjs', () => {
  it('Lion and AdamW take the same steps (1e-4 normwise; Lion signs identical where |input| > 1e-6)', () => {
    const out = pythonJson<Checked>([join(TORCH_TEST_DIR, 'check_optim.py'), join(dir, 'case')]);
    for (const c of cases) {
      const r = out[c.name]!;
      expect(r.normwise, c.name).toBeLessThanOrEqual(1e-4);
      expect(r.groups, c.name).toEqual(tfGroups[c.name]);
      if (c.optimizer.kind === 'lion') {
        expect(r.signs.checked).toBeGreaterThan(100);
        expect(r.signs.agree).toBe(r.signs.checked);
      }
    }
  });
});
