/**
 * `nvcc preview-mask`: the first samples of a masked stage's first batch, with the removed
 * patches filled. Checks the picture itself: the layout, no fill colour in the originals, the
 * number of removed patches the policy implies per sample, that n samples are the first n of
 * a longer preview (the trainer's sample-by-sample draws), overrides, and refusals.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { REMOVED_RGB } from '../../workflow/mask-preview.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-preview-mask-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const GAP = 4;
const CELL = 128; // the demo's 64 px images at the default scale 2

async function sheet(file: string) {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  const px = (x: number, y: number) => [
    data[(y * info.width + x) * info.channels]!,
    data[(y * info.width + x) * info.channels + 1]!,
    data[(y * info.width + x) * info.channels + 2]!,
  ];
  const isFill = (p: number[]) => p[0] === REMOVED_RGB[0] && p[1] === REMOVED_RGB[1] && p[2] === REMOVED_RGB[2];
  /** Per sample, how many of its 2x2 patches are entirely the fill colour in the given row. */
  const removedPatches = (sample: number, row: number) => {
    let removed = 0;
    for (const [py, px0] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]) {
      let all = true;
      for (let y = 0; y < CELL / 2 && all; y++)
        for (let x = 0; x < CELL / 2 && all; x++)
          all = isFill(
            px(GAP + sample * (CELL + GAP) + px0! * (CELL / 2) + x, GAP + row * (CELL + GAP) + py! * (CELL / 2) + y),
          );
      if (all) removed++;
    }
    return removed;
  };
  const cell = (sample: number, row: number) => {
    const out: number[] = [];
    for (let y = 0; y < CELL; y++)
      for (let x = 0; x < CELL; x++) out.push(...px(GAP + sample * (CELL + GAP) + x, GAP + row * (CELL + GAP) + y));
    return out;
  };
  return { info, removedPatches, cell };
}

describe('nvcc preview-mask', () => {
  let err = '';
  beforeEach(() => {
    err = '';
    vi.spyOn(process.stderr, 'write').mockImplementation(
      (chunk: string | Uint8Array) => ((err += String(chunk)), true),
    );
  });
  afterEach(() => vi.restoreAllMocks());

  it("draws the first samples of the demo pretraining's first batch with 3 of 4 patches removed", async () => {
    const three = path.join(tmp, 'three.png');
    expect(
      await main(['preview-mask', 'examples/mednvc.nvc', '--variant', 'demo', '--count', '3', '--out', three]),
      err,
    ).toBe(0);
    expect(err).toMatch(
      new RegExp(
        String.raw`wrote .*three\.png: stage pretrain, the first 3 of step 1's batch of 24 .*` +
          String.raw` xray 64x64, 2x2 patches of 32 px; mask ratio 0\.6: 3 of 4 patches removed per image \(75%\)`,
      ),
    );
    const s = await sheet(three);
    expect([s.info.width, s.info.height]).toEqual([3 * CELL + 4 * GAP, 2 * CELL + 3 * GAP]);
    for (let i = 0; i < 3; i++) {
      // ratio 0.6 of 4 patches: floor(4 * 0.4) = 1 kept, 3 removed; the originals have no fill.
      expect(s.removedPatches(i, 1), `sample ${i}`).toBe(3);
      expect(s.removedPatches(i, 0)).toBe(0);
    }
    // Two samples are the first two of three: the same images and the same masks.
    const two = path.join(tmp, 'two.png');
    expect(await main(['preview-mask', 'examples/mednvc.nvc', '--variant', 'demo', '--count', '2', '--out', two])).toBe(
      0,
    );
    const t = await sheet(two);
    for (let i = 0; i < 2; i++) for (const row of [0, 1]) expect(t.cell(i, row)).toEqual(s.cell(i, row));
  });

  it('follows an override of the mask ratio', async () => {
    const file = path.join(tmp, 'quarter.png');
    expect(
      await main([
        'preview-mask',
        'examples/mednvc.nvc',
        '--variant',
        'demo',
        '--count',
        '2',
        '--set',
        'pretrain.mask.ratio=0.25',
        '--out',
        file,
      ]),
      err,
    ).toBe(0);
    // floor(4 * 0.75) = 3 kept, 1 removed.
    const s = await sheet(file);
    expect([s.removedPatches(0, 1), s.removedPatches(1, 1)]).toEqual([1, 1]);
    expect(err).toContain('mask ratio 0.25: 1 of 4 patches removed per image (25%)');
  });

  it('states what the training diagram states for the same stage', async () => {
    const file = path.join(tmp, 'same.png');
    expect(await main(['preview-mask', 'examples/mednvc.nvc', '--variant', 'demo', '--out', file]), err).toBe(0);
    const stated = /mask ratio 0\.6: (.*)\n/.exec(err)![1]!;
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation(
      (chunk: string | Uint8Array) => ((out += String(chunk)), true),
    );
    const diagram = ['diagram', 'examples/mednvc.nvc', '--variant', 'demo', '--training', '--format', 'mermaid'];
    expect(await main(diagram)).toBe(0);
    expect(stated).toBe('3 of 4 patches removed per image (75%)');
    expect(out).toContain(`ratio 0.6<br/>patch 32×32<br/>${stated}<br/>`);
  });

  it('refuses a missing --out, a stage without a mask and a bad count, without a stack trace', async () => {
    expect(await main(['preview-mask', 'examples/mednvc.nvc', '--variant', 'demo'])).toBe(1);
    expect(err).toContain('--out PATH.png is required');
    err = '';
    expect(
      await main([
        'preview-mask',
        'examples/mednvc.nvc',
        '--variant',
        'demo',
        '--stage',
        'images',
        '--out',
        path.join(tmp, 'x.png'),
      ]),
    ).toBe(1);
    expect(err).toContain('stage `images` has no mask policy (masked stages: pretrain)');
    err = '';
    expect(await main(['preview-mask', 'examples/mednvc.nvc', '--count', '0', '--out', path.join(tmp, 'x.png')])).toBe(
      1,
    );
    expect(err).toContain('--count must be an integer from 1 to 64');
    expect(err).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(path.join(tmp, 'x.png'))).toBe(false);
  });
});
