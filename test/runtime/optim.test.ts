import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Module, type Parameter } from '../../runtime/module.js';
import { seed } from '../../runtime/rng.js';
import {
  AdamW,
  Lion,
  buildSchedule,
  decodeOptimizerState,
  encodeOptimizerState,
  ScheduleError,
} from '../../runtime/optim/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  seed(0);
});

const fixed = (values: number[]) => (shape: readonly number[]) => tf.tensor(values, [...shape]);

class Toy extends Module {
  constructor(w: number[], b: number[], frozen: number[]) {
    super();
    this.param('weight', [2, 2], fixed(w));
    this.param('bias', [2], fixed(b), { noDecay: true });
    this.param('frozen', [2], fixed(frozen), { trainable: false });
  }
}

function grads(entries: Record<string, number[]>, params: Array<[string, Parameter]>): Map<string, tf.Tensor> {
  const shapes = new Map(params.map(([k, p]) => [k, p.variable.shape]));
  return new Map(Object.entries(entries).map(([k, v]) => [k, tf.tensor(v, shapes.get(k)!)]));
}

function values(params: Array<[string, Parameter]>, path: string): number[] {
  return Array.from(params.find(([k]) => k === path)![1].variable.dataSync());
}

function expectClose(actual: number[], expected: number[], atol: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) =>
    expect(Math.abs(a - expected[i]!), `index ${i}: ${a} vs ${expected[i]}`).toBeLessThanOrEqual(atol),
  );
}

describe('Lion', () => {
  it('matches hand-computed values over two steps (sign update, decoupled decay, momentum)', () => {
    const m = new Toy([0.5, -1.0, 2.0, 0.0], [1.0, -2.0], [3, 4]);
    const params = m.namedParameters();
    const opt = new Lion({ weightDecay: 0.5 });
    const g1 = grads({ weight: [0.1, -0.2, 0.0, 0.3], bias: [0.2, -0.4], frozen: [1, 1] }, params);
    opt.step(g1, params, 0.1);
    // c = 0.1 g -> u = [1,-1,0,1]; p - 0.1 (u + 0.5 p)
    expectClose(values(params, 'weight'), [0.375, -0.85, 1.9, -0.1], 1e-7);
    expectClose(values(params, 'bias'), [0.9, -1.9], 1e-7); // noDecay: no wd term
    expect(values(params, 'frozen')).toEqual([3, 4]);
    const g2 = grads({ weight: [-0.5, -0.2, 0.1, 0.0], bias: [0.0, 0.0] }, params);
    opt.step(g2, params, 0.1);
    // m = [0.001,-0.002,0,0.003]; c = 0.9m + 0.1 g2 = [-0.0491,-0.0218,0.01,0.0027] -> u = [-1,-1,1,1]
    expectClose(values(params, 'weight'), [0.45625, -0.7075, 1.705, -0.195], 1e-7);
    // bias: m = [0.002,-0.004], g = 0 -> u = [1,-1]
    expectClose(values(params, 'bias'), [0.8, -1.8], 1e-7);
    expect(opt.stepCount).toBe(2);
    tf.dispose([...g1.values(), ...g2.values()]);
    opt.dispose();
    m.dispose();
  });

  it('creates no tensors beyond its slots (tidy), Lion and AdamW, with clipping and decay', () => {
    for (const [make, slots] of [
      [() => new Lion({ weightDecay: 0.1, clipGradNorm: 1 }), 2],
      [() => new AdamW({ weightDecay: 0.1, clipGradNorm: 1 }), 4],
    ] as const) {
      const m = new Toy([1, 2, 3, 4], [1, 2], [0, 0]);
      const params = m.namedParameters();
      const opt = make();
      const g = grads({ weight: [1, -1, 1, -1], bias: [2, 2] }, params);
      opt.step(g, params, 0.01);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) opt.step(g, params, 0.01);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([...g.values()]);
      opt.dispose();
      expect(tf.memory().numTensors).toBe(before - 2 - slots); // 2 gradients + the slots
      m.dispose();
    }
  });

  it('rejects gradients for unknown paths or of the wrong shape', () => {
    const m = new Toy([1, 2, 3, 4], [1, 2], [0, 0]);
    const params = m.namedParameters();
    const opt = new Lion();
    const bad = new Map([['nope', tf.zeros([2])]]);
    expect(() => opt.step(bad, params, 0.1)).toThrow(/unknown parameter 'nope'/);
    const wrong = new Map([['bias', tf.zeros([3])]]);
    expect(() => opt.step(wrong, params, 0.1)).toThrow(/shape \[3\].*\[2\]/);
    tf.dispose([...bad.values(), ...wrong.values()]);
    m.dispose();
  });
});

describe('AdamW', () => {
  it('matches the closed-form bias-corrected update over two steps', () => {
    const m = new Toy([0.5, -1.0, 0, 0], [0, 0], [0, 0]);
    const params = m.namedParameters();
    const opt = new AdamW({ weightDecay: 0.1 });
    const g1 = grads({ weight: [0.1, -0.2, 0, 0] }, params);
    opt.step(g1, params, 0.01);
    // Float64 values from the update rule (see adamw.ts header).
    expectClose(values(params, 'weight').slice(0, 2), [0.4895000009999999, -0.9890000004999999], 1e-7);
    const g2 = grads({ weight: [0.3, 0.0, 0, 0] }, params);
    opt.step(g2, params, 0.01);
    expectClose(values(params, 'weight').slice(0, 2), [0.479832690219559, -0.9813104184320558], 2e-7);
    tf.dispose([...g1.values(), ...g2.values()]);
    opt.dispose();
    m.dispose();
  });
});

describe('parameter groups', () => {
  class Net extends Module {
    constructor() {
      super();
      const z = (shape: readonly number[]) => tf.zeros([...shape]);
      this.param('pwconv1.weight', [4, 8], z);
      this.param('pwconv1.bias', [8], z, { noDecay: true });
      this.param('norm.weight', [4], z, { noDecay: true });
      this.param('grn.gamma', [8], z, { noDecay: true });
      this.param('grn.beta', [8], z, { noDecay: true });
      this.param('mask_token', [8], z);
      this.param('frozen.weight', [2, 2], z, { trainable: false });
    }
  }
  it('expresses the flagged, fine-tuning and pre-training rules', () => {
    const net = new Net();
    const params = net.namedParameters();
    expect(new Lion().groups(params)).toEqual({
      decay: ['pwconv1.weight', 'mask_token'],
      noDecay: ['pwconv1.bias', 'norm.weight', 'grn.gamma', 'grn.beta'],
      frozen: ['frozen.weight'],
    });
    expect(new AdamW({ noDecay: 'finetune' }).groups(params).decay).toEqual(['pwconv1.weight']);
    // FCMAE pre-training: GRN gamma/beta and mask_token are decayed (official 4-D shapes).
    expect(new AdamW({ noDecay: 'pretrain' }).groups(params)).toEqual({
      decay: ['pwconv1.weight', 'grn.gamma', 'grn.beta', 'mask_token'],
      noDecay: ['pwconv1.bias', 'norm.weight'],
      frozen: ['frozen.weight'],
    });
    expect(new Lion({ noDecay: (p) => p.startsWith('grn') }).groups(params).noDecay).toEqual(['grn.gamma', 'grn.beta']);
    net.dispose();
  });

  it('clips by global norm (torch clip_grad_norm_ semantics) before updating moments', async () => {
    const m = new Toy([0, 0, 0, 0], [0, 0], [0, 0]);
    const params = m.namedParameters();
    const opt = new Lion({ clipGradNorm: 1 });
    // global norm = sqrt(9+16) = 5 -> scale 1/(5+1e-6)
    const g = grads({ weight: [3, 0, 0, 0], bias: [0, 4] }, params);
    opt.step(g, params, 0.1);
    const st = await opt.state();
    const scale = 1 / (5 + 1e-6);
    expectClose(Array.from(st.slots.get('weight#m')!.data), [0.01 * 3 * scale, 0, 0, 0], 1e-8);
    expectClose(Array.from(st.slots.get('bias#m')!.data), [0, 0.01 * 4 * scale], 1e-8);
    tf.dispose([...g.values()]);
    opt.dispose();
    m.dispose();
  });
});

describe('per-parameter learning-rate scale and state validation', () => {
  it('lrScale multiplies the step of each parameter (layer-wise decay)', () => {
    const m = new Toy([0, 0, 0, 0], [0, 0], [0, 0]);
    const params = m.namedParameters();
    const opt = new Lion({ lrScale: (p) => (p === 'bias' ? 0.5 : 2) });
    const g = grads({ weight: [1, 1, -1, -1], bias: [1, -1] }, params);
    opt.step(g, params, 0.1);
    expectClose(values(params, 'weight'), [-0.2, -0.2, 0.2, 0.2], 1e-7);
    expectClose(values(params, 'bias'), [-0.05, 0.05], 1e-7);
    tf.dispose([...g.values()]);
    opt.dispose();
    m.dispose();
  });

  it('refuses state whose slots do not fit the parameters, or with unknown slot names', async () => {
    const m = new Toy([0, 0, 0, 0], [0, 0], [0, 0]);
    const params = m.namedParameters();
    const opt = new Lion();
    opt.loadState({
      kind: 'lion',
      step: 4,
      hyper: {},
      slots: new Map([['bias#m', { dtype: 'float32', shape: [3], data: new Float32Array(3) }]]),
    });
    const g = grads({ bias: [1, 1] }, params);
    expect(() => opt.step(g, params, 0.1)).toThrow(/slot 'bias#m' has shape \[3\] but the parameter is \[2\]/);
    expect(() =>
      opt.loadState({
        kind: 'lion',
        step: 1,
        hyper: {},
        slots: new Map([['bias#v', { dtype: 'float32', shape: [2], data: new Float32Array(2) }]]),
      }),
    ).toThrow(/unknown slot 'bias#v'/);
    tf.dispose([...g.values()]);
    opt.dispose();
    m.dispose();
  });
});

describe('optimizer state', () => {
  it('round-trips through safetensors and resumes exactly', async () => {
    const build = () => new Toy([0.3, -0.7, 1.1, 0.2], [0.5, -0.5], [1, 1]);
    const gAt = (params: Array<[string, Parameter]>, k: number) =>
      grads({ weight: [Math.sin(k), Math.cos(k), -0.3 * k, 0.1], bias: [0.2 * k - 0.3, -0.1] }, params);
    for (const make of [() => new Lion({ weightDecay: 0.2 }), () => new AdamW({ weightDecay: 0.05 })]) {
      const a = build();
      const pa = a.namedParameters();
      const optA = make();
      for (let k = 0; k < 3; k++) {
        const g = gAt(pa, k);
        optA.step(g, pa, 0.01);
        tf.dispose([...g.values()]);
      }
      const bytes = encodeOptimizerState(await optA.state());
      // A second model restored from A's weights + the saved state must follow A exactly.
      const b = build();
      const pb = b.namedParameters();
      pb.forEach(([k, p]) => p.variable.assign(pa.find(([j]) => j === k)![1].variable));
      const optB = make();
      optB.loadState(decodeOptimizerState(bytes));
      expect(optB.stepCount).toBe(3);
      for (let k = 3; k < 6; k++) {
        const g1 = gAt(pa, k);
        optA.step(g1, pa, 0.01);
        tf.dispose([...g1.values()]);
        const g2 = gAt(pb, k);
        optB.step(g2, pb, 0.01);
        tf.dispose([...g2.values()]);
      }
      expect(values(pb, 'weight')).toEqual(values(pa, 'weight'));
      expect(values(pb, 'bias')).toEqual(values(pa, 'bias'));
      expect(() => (optA.kind === 'lion' ? new AdamW() : new Lion()).loadState(decodeOptimizerState(bytes))).toThrow(
        /cannot load/,
      );
      optA.dispose();
      optB.dispose();
      a.dispose();
      b.dispose();
    }
  });
});

describe('schedules', () => {
  const ctx = { baseLr: 1e-3, stepsPerEpoch: 10, epochs: 100 };

  it('warmup + cosine matches the official adjust_learning_rate closed form', () => {
    const s = buildSchedule(
      [
        { kind: 'warmup', epochs: 20 },
        { kind: 'cosine', to: 1e-6 },
      ],
      ctx,
    );
    expect(s.totalSteps).toBe(1000);
    expect(s.at(0)).toBe(0);
    expect(s.at(100)).toBeCloseTo((1e-3 * 10) / 20, 15); // epoch 10 of 20 warmup
    expect(s.at(5)).toBeCloseTo((1e-3 * 0.5) / 20, 15);
    expect(s.at(200)).toBeCloseTo(1e-3, 15); // end of warmup = start of cosine
    // midway through the cosine (epoch 60): min + (base-min)*0.5*(1+cos(pi/2))
    expect(s.at(600)).toBeCloseTo(1e-6 + (1e-3 - 1e-6) * 0.5, 15);
    const e = 87.3;
    expect(s.at(873)).toBeCloseTo(1e-6 + (1e-3 - 1e-6) * 0.5 * (1 + Math.cos((Math.PI * (e - 20)) / 80)), 15);
    expect(s.at(999)).toBeGreaterThan(1e-6);
    expect(s.at(1000)).toBeCloseTo(1e-6, 15);
    expect(s.at(5000)).toBeCloseTo(1e-6, 15);
  });

  it('supports warmup in steps from a non-zero start, constant, linear and step decay', () => {
    const w = buildSchedule([{ kind: 'warmup', steps: 50, from: 1e-4 }, { kind: 'constant' }], ctx);
    expect(w.at(0)).toBeCloseTo(1e-4, 15);
    expect(w.at(25)).toBeCloseTo(1e-4 + 0.9e-3 * 0.5, 15);
    expect(w.at(50)).toBeCloseTo(1e-3, 15);
    expect(w.at(999)).toBeCloseTo(1e-3, 15);
    expect(buildSchedule('constant', ctx).at(123)).toBe(1e-3);
    const st = buildSchedule([{ kind: 'step', every: 30, gamma: 0.1 }], ctx);
    expect(st.at(299)).toBeCloseTo(1e-3, 15);
    expect(st.at(300)).toBeCloseTo(1e-4, 15);
    expect(st.at(600)).toBeCloseTo(1e-5, 15);
    expect(st.at(999)).toBeCloseTo(1e-6, 15);
    const lin = buildSchedule([{ kind: 'linear', to: 0 }], ctx);
    expect(lin.at(250)).toBeCloseTo(0.75e-3, 15);
    const nested = buildSchedule(
      [{ kind: 'constant', epochs: 10 }, { kind: 'cosine', epochs: 10, to: 0 }, { kind: 'constant' }],
      ctx,
    );
    expect(nested.at(150)).toBeCloseTo(0.5e-3, 15);
    expect(nested.at(500)).toBe(0);
  });

  it('reports malformed descriptions clearly', () => {
    expect(() => buildSchedule([{ kind: 'warmup' }, { kind: 'cosine' }], ctx)).toThrow(/only the last phase may omit/);
    expect(() => buildSchedule([{ kind: 'warmup', epochs: 200 }], ctx)).toThrow(ScheduleError);
    expect(() => buildSchedule([{ kind: 'warmup', epochs: 2, steps: 3 }], ctx)).toThrow(/not both/);
    expect(() => buildSchedule([{ kind: 'bogus' } as never], ctx)).toThrow(/unknown kind 'bogus'/);
    expect(() => buildSchedule('constant', { ...ctx, stepsPerEpoch: 0 })).toThrow(/steps per epoch/);
  });
});
