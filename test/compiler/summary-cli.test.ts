import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { BACKWARD_FACTOR } from '../../compiler/summary.js';

describe('nvcc summary', () => {
  let out = '';
  beforeEach(() => {
    out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it('prints the exact atto, tiny and base totals for a 1000-class head', async () => {
    for (const [name, total] of [
      ['convnextv2_atto', '3,708,400'],
      ['convnextv2_tiny', '28,635,496'],
      ['convnextv2_base', '88,717,800'],
    ] as const) {
      out = '';
      expect(await main(['summary', 'std/convnextv2.nvc', '--model', name])).toBe(0);
      expect(out).toContain(`Total params: ${total}`);
      expect(out).toMatch(/stages\.2\s+List\s+\[1, 14, 14, \d+\]/);
    }
  });

  it('--format json gives rows, totals and per-stage trainable/frozen counts', async () => {
    expect(await main(['summary', 'examples/mednvc.nvc', '--model', 'pretrain', '--format', 'json'])).toBe(0);
    const json = JSON.parse(out) as {
      models: { totalParams: number; rows: { path: string; outputShape: string }[] }[];
      stages: { stage: string; trainableParams: number; frozenParams: number }[];
    };
    expect(json.models[0]!.totalParams).toBe(91_922_432);
    expect(json.models[0]!.rows.find((r) => r.path === 'encoder')!.outputShape).toBe('[1, 7, 7, 1024]');
    const pre = json.stages.find((s) => s.stage === 'pretrain')!;
    expect(pre.trainableParams + pre.frozenParams).toBe(91_922_432);
  });

  it("summarises a stage's model at its dataset's image size and channels; --dims still wins", async () => {
    // The demo trains at 64x64 single-channel: FCMAE's symbolic [B, H, W, C] input takes that.
    expect(
      await main(['summary', 'examples/mednvc.nvc', '--variant', 'demo', '--model', 'pretrain', '--format', 'json']),
    ).toBe(0);
    const atData = JSON.parse(out) as {
      models: { inputs: Record<string, string>; macs: number; rows: { path: string; outputShape: string }[] }[];
    };
    expect(atData.models[0]!.inputs).toEqual({ x: '[1, 64, 64, 1]' });
    expect(atData.models[0]!.rows.find((r) => r.path === 'encoder')!.outputShape).toBe('[1, 2, 2, 128]');
    out = '';
    expect(
      await main([
        'summary',
        'examples/mednvc.nvc',
        '--variant',
        'demo',
        '--model',
        'pretrain',
        '--format',
        'json',
        '--dims',
        'H=128,W=128',
      ]),
    ).toBe(0);
    const asked = JSON.parse(out) as typeof atData;
    expect(asked.models[0]!.inputs).toEqual({ x: '[1, 128, 128, 1]' });
    // Convolutions only: MACs grow with the pixel count.
    expect(asked.models[0]!.macs).toBe(atData.models[0]!.macs * 4);
  });

  it('counts inputs and every intermediate result once, by hand on a small MLP', async () => {
    // TinyMLP at B = 1: mlp chain 16 + 16 + 16, ScaledNorm's mul and LayerNorm 16 + 16,
    // dropout 16, head 3, softmax 3 = 102 (block calls and named outputs are not new tensors).
    expect(await main(['summary', 'test/fixtures/emit/tiny-mlp.nvc', '--format', 'json'])).toBe(0);
    const one = (JSON.parse(out) as { models: { inputElements: number; activationElements: number }[] }).models[0]!;
    expect([one.inputElements, one.activationElements]).toEqual([6, 102]);
    out = '';
    expect(await main(['summary', 'test/fixtures/emit/tiny-mlp.nvc', '--dims', 'B=10'])).toBe(0);
    expect(out).toContain('Input size (float32): 240 B');
    expect(out).toContain('Forward activations (float32, every intermediate result): 4.08 kB');
  });

  it("estimates a training step's memory per stage from its optimizer, batch and data sizes", async () => {
    expect(await main(['summary', 'examples/mednvc.nvc', '--variant', 'demo', '--format', 'json'])).toBe(0);
    const json = JSON.parse(out) as {
      models: { model: string; totalParams: number; inputElements: number; activationElements: number }[];
      stages: {
        stage: string;
        trainableParams: number;
        totalParams: number;
        training?: { batch: number; optimizer: string; statesPerWeight: number; bytes: number };
      }[];
    };
    const fine = json.stages.find((s) => s.stage === 'finetune')!;
    const model = json.models.find((m) => m.model === 'finetune')!;
    expect(fine.training).toMatchObject({ batch: 24, optimizer: 'lion', statesPerWeight: 1 });
    // 64x64x1 image + 14 lab values per sample; weights + gradients + Lion's momentum.
    expect(model.inputElements).toBe(64 * 64 + 14);
    expect(fine.training!.bytes).toBe(
      4 *
        (fine.totalParams +
          fine.trainableParams * 2 +
          24 * model.inputElements +
          24 * BACKWARD_FACTOR * model.activationElements),
    );
    // With micro-batches of 4, only 4 samples' activations are alive at once.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-summary-'));
    const chunkedFile = path.join(dir, 'mednvc.nvc');
    fs.writeFileSync(
      chunkedFile,
      `${fs.readFileSync('examples/mednvc.nvc', 'utf8')}\nvariant demo_chunked extends demo { ` +
        `finetune.micro_batch = 4 }\n`,
    );
    out = '';
    expect(await main(['summary', chunkedFile, '--variant', 'demo_chunked', '--format', 'json'])).toBe(0);
    fs.rmSync(dir, { recursive: true, force: true });
    const chunked = (JSON.parse(out) as typeof json).stages.find((s) => s.stage === 'finetune')!.training!;
    expect(chunked).toMatchObject({ batch: 24, microBatch: 4 });
    expect(chunked.bytes).toBe(
      4 *
        (fine.totalParams +
          fine.trainableParams * 2 +
          24 * model.inputElements +
          4 * BACKWARD_FACTOR * model.activationElements),
    );
    out = '';
    expect(await main(['summary', 'examples/mednvc.nvc', '--variant', 'demo', '--model', 'finetune'])).toBe(0);
    expect(out).toMatch(
      new RegExp(
        String.raw`finetune: MEDNVC .*\n {4}training step at batch 24: about \d+(\.\d+)? MB \(weights, gradients,` +
          String.raw` lion state x1, inputs, 5\.5 x activations for tfjs's backward pass; float32\)`,
      ),
    );
  });

  it("lists the last stage's model first and a model no stage trains last, saying so", async () => {
    expect(await main(['summary', 'examples/mednvc.nvc', '--variant', 'demo'])).toBe(0);
    expect(out.match(/^model .*?(?= {2}inputs)/gm)).toEqual([
      'model finetune (MEDNVC, trained by stage MEDNVC_on_PJI.finetune, the last stage)',
      'model pretrain (FCMAE, trained by stage MEDNVC_on_PJI.pretrain)',
      'model images (ImagesOnly, trained by stage MEDNVC_on_PJI.images)',
      'model LabsOnly (not trained by any stage)',
    ]);
  });

  it('adds up at the default depth: a child the forward calls in parts gets its own row', async () => {
    expect(await main(['summary', 'examples/mednvc.nvc', '--variant', 'demo', '--format', 'json'])).toBe(0);
    const json = JSON.parse(out) as {
      models: { model: string; totalParams: number; rows: { path: string; depth: number; params: number }[] }[];
    };
    for (const m of json.models) {
      const top = m.rows.filter((r) => r.depth === 1).reduce((n, r) => n + r.params, 0);
      expect(top, m.model).toBe(m.totalParams);
    }
    expect(json.models.find((m) => m.model === 'finetune')!.totalParams).toBe(303_138);
    out = '';
    // MEDNVC runs enc.downsample_layers[i] and enc.stages[i] around the fusion, never `enc` whole.
    expect(await main(['summary', 'examples/mednvc.nvc', '--variant', 'demo', '--model', 'finetune'])).toBe(0);
    expect(out).toMatch(/\n {2}enc +ConvNeXtV2Encoder +\(called in parts\) +270,368 +3,506,688\n/);
    expect(out).toMatch(/\n {4}enc\.stages +List +\(called in parts\) +226,608 /);
    out = '';
    expect(
      await main(['summary', 'examples/mednvc.nvc', '--variant', 'demo', '--model', 'finetune', '--depth', '3']),
    ).toBe(0);
    // The parts stay under their parent, in call order, though the fusion runs between them.
    const paths = out.match(/^ {6}enc\.\S+/gm)!.map((p) => p.trim());
    expect(paths).toEqual([
      ...[0, 1, 2, 3].map((i) => `enc.downsample_layers.${i}`),
      ...[0, 1, 2, 3].map((i) => `enc.stages.${i}`),
    ]);
  });

  it('takes --set overrides, checked like nvcc build checks them', async () => {
    expect(
      await main([
        'summary',
        'examples/mednvc.nvc',
        '--variant',
        'demo',
        '--model',
        'finetune',
        '--set',
        'finetune.micro_batch=4',
        '--set',
        'finetune.batch=12',
      ]),
    ).toBe(0);
    expect(out).toMatch(/finetune: MEDNVC .*\n {4}training step at batch 12 in micro-batches of 4: about/);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await main(['summary', 'examples/mednvc.nvc', '--variant', 'demo', '--set', 'finetune.batchh=4'])).toBe(1);
    expect(err.mock.calls.map((c) => String(c[0])).join('')).toContain(
      'unknown override path `finetune.batchh`; did you mean `finetune.batch`?',
    );
  });

  it('refuses an unknown --model with a suggestion, without a stack trace', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await main(['summary', 'std/convnextv2.nvc', '--model', 'convnextv2_ato'])).toBe(1);
    expect(String(err.mock.calls[0]![0])).toContain('did you mean `convnextv2_atto`?');
  });
});
