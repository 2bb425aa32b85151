import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { seed } from '../../runtime/rng.js';
import {
  applyHandover,
  formatHandoverReport,
  formatHandoverSummary,
  freezeModules,
  HandoverError,
  parameterMap,
} from '../../runtime/train/handover.js';
import { TinyClassifier, TinyMAE, type TinyConfig } from '../support/train-models.js';

const config: TinyConfig = { patch: 4, channels: 1, dim: 6, labs: 3, classes: 2, image: 'xray', labInput: 'labs' };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('applyHandover', () => {
  it('copies every encoder parameter into enc and leaves the rest fresh', () => {
    seed(1);
    const mae = new TinyMAE(config);
    seed(2);
    const clf = new TinyClassifier(config);
    const headBefore = clf.head.weight.arraySync();
    const report = applyHandover(
      clf,
      [{ from: 'pretrain', modules: [{ source: 'encoder', target: 'enc' }] }],
      new Map([['pretrain', parameterMap(mae)]]),
    );
    expect(report.loaded.map((e) => e.target).sort()).toEqual([
      'enc.embed.bias',
      'enc.embed.weight',
      'enc.mix.bias',
      'enc.mix.weight',
    ]);
    for (const e of report.loaded) {
      const src = mae.namedParameters().find(([p]) => p === e.source)![1].variable;
      const dst = clf.namedParameters().find(([p]) => p === e.target)![1].variable;
      expect(Array.from(dst.dataSync())).toEqual(Array.from(src.dataSync()));
    }
    expect(clf.head.weight.arraySync()).toEqual(headBefore);
    expect(report.fresh.map((f) => f.path).sort()).toEqual([
      'head.bias',
      'head.weight',
      'lab_proj.bias',
      'lab_proj.weight',
    ]);
    const table = formatHandoverReport(report);
    expect(table).toContain('pretrain.encoder.embed.weight');
    expect(table).toContain('[16, 6]');
    expect(table).toMatch(/loaded 4 tensors \(144 values\)/);
    // the console gets one line per mapping instead of a row per tensor
    const freshValues = report.fresh.reduce((n, f) => n + f.count, 0);
    expect(formatHandoverSummary(report).split('\n')).toEqual([
      '  pretrain.encoder -> enc: 4 tensors, 144 values',
      `  freshly initialised: lab_proj, head: 4 tensors, ${freshValues} values`, // model order
    ]);
  });

  it('refuses a shape mismatch and assigns nothing', () => {
    seed(1);
    const mae = new TinyMAE({ ...config, dim: 5 });
    seed(2);
    const clf = new TinyClassifier(config);
    const before = clf.enc.embed.weight.arraySync();
    const run = () =>
      applyHandover(
        clf,
        [{ from: 'pretrain', modules: [{ source: 'encoder', target: 'enc' }] }],
        new Map([['pretrain', parameterMap(mae)]]),
      );
    expect(run).toThrow(HandoverError);
    try {
      run();
    } catch (e) {
      expect(
        (e as HandoverError).problems.some((p) =>
          p.includes("'encoder.embed.weight' has shape [16,5] but 'enc.embed.weight' has shape [16,6]"),
        ),
      ).toBe(true);
    }
    expect(clf.enc.embed.weight.arraySync()).toEqual(before);
  });

  it('reports a missing source module and an unknown stage', () => {
    seed(1);
    const mae = new TinyMAE(config);
    const clf = new TinyClassifier(config);
    expect(() =>
      applyHandover(
        clf,
        [{ from: 'pretrain', modules: [{ source: 'encoderr', target: 'enc' }] }],
        new Map([['pretrain', parameterMap(mae)]]),
      ),
    ).toThrow(/no parameters found under 'encoderr'/);
    expect(() =>
      applyHandover(clf, [{ from: 'warmup', modules: [{ source: 'encoder', target: 'enc' }] }], new Map()),
    ).toThrow(/stage 'warmup' has no weights/);
  });
});

describe('freezeModules', () => {
  it('freezes exactly the parameters under the given paths and rejects unknown paths', () => {
    seed(3);
    const clf = new TinyClassifier(config);
    const frozen = freezeModules(clf, ['enc.embed']);
    expect(frozen).toEqual(['enc.embed.weight', 'enc.embed.bias']);
    const trainable = clf
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([n]) => n);
    expect(trainable).toEqual([
      'enc.mix.weight',
      'enc.mix.bias',
      'lab_proj.weight',
      'lab_proj.bias',
      'head.weight',
      'head.bias',
    ]);
    expect(() => freezeModules(clf, ['enc.embd'])).toThrow(/no module or parameter 'enc.embd'/);
  });
});
