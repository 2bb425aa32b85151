/**
 * `nvcc preview-mask FILE [--variant V] [--set p=v ...] [--stage S] [--count N] [--scale K]
 * --out masks.png`: what a masked stage's first training step sees.
 * In: a .nvc program with a stage that has `mask = random_patches(...)` (the first such stage
 * unless --stage names one). Out: a PNG with the first N samples of that stage's first batch:
 * top row as the model receives them (augmented; contrast stretched per image and channel),
 * bottom row with every removed patch filled in a solid colour that no grey image contains.
 * Holds afterwards: samples, augmentation and masks are the trainer's own draws for step 1
 * (runtime/train/preview.ts), so the picture shows the masking the run will do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../../runtime/run/atomic.js';
import { UserError } from '../main.js';
import { checkProgram, guarded, loadProgramData, parseOverrides } from './train.js';

export interface PreviewMaskOptions {
  readonly variant?: string;
  readonly set: string[];
  readonly config?: string;
  readonly stage?: string;
  readonly count: string;
  readonly scale?: string;
  readonly out?: string;
}

/** The fill of removed patches: a saturated blue, never produced by a grey image. */
export const REMOVED_RGB = [40, 110, 220] as const;
const GAP = 4;

/**
 * Lays out n images [n, H, W, C] (any range) over their masks [n, gh, gw] (1 = removed) as an
 * RGB raster: originals on top, masked below, each cell scaled by `scale` (nearest).
 */
export function maskSheet(
  pixels: Float32Array,
  mask: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  gh: number,
  gw: number,
  scale: number,
): { data: Uint8Array; width: number; height: number } {
  const cellW = w * scale;
  const cellH = h * scale;
  const width = n * cellW + (n + 1) * GAP;
  const height = 2 * cellH + 3 * GAP;
  const data = new Uint8Array(width * height * 3).fill(255);
  const ph = h / gh;
  const pw = w / gw;
  for (let i = 0; i < n; i++) {
    const base = i * h * w * c;
    // Stretched per channel: normalisation shifts each channel by its own mean and std, so a
    // grey radiograph fed as three channels comes back grey.
    const lo = new Array<number>(c).fill(Infinity);
    const hi = new Array<number>(c).fill(-Infinity);
    for (let k = 0; k < h * w * c; k++) {
      const v = pixels[base + k]!;
      const ch = k % c;
      if (v < lo[ch]!) lo[ch] = v;
      if (v > hi[ch]!) hi[ch] = v;
    }
    const level = (v: number, ch: number) =>
      Math.round((255 * (v - lo[ch]!)) / (hi[ch]! > lo[ch]! ? hi[ch]! - lo[ch]! : 1));
    for (let y = 0; y < cellH; y++)
      for (let x = 0; x < cellW; x++) {
        const sy = Math.floor(y / scale);
        const sx = Math.floor(x / scale);
        const rgb = [0, 1, 2].map((ch) => {
          const source = Math.min(ch, c - 1);
          return level(pixels[base + (sy * w + sx) * c + source]!, source);
        });
        const removed = mask[i * gh * gw + Math.floor(sy / ph) * gw + Math.floor(sx / pw)] === 1;
        const left = GAP + i * (cellW + GAP) + x;
        for (const [row, colour] of [
          [0, rgb],
          [1, removed ? REMOVED_RGB : rgb],
        ] as const) {
          const top = GAP + row * (cellH + GAP) + y;
          data.set(colour, (top * width + left) * 3);
        }
      }
  }
  return { data, width, height };
}

export async function previewMaskCommand(
  file: string,
  opts: PreviewMaskOptions,
  setExit: (code: number) => void,
): Promise<void> {
  await guarded(setExit, async () => {
    if (!opts.out) throw new UserError('--out PATH.png is required (the preview is an image)');
    if (!opts.out.endsWith('.png')) throw new UserError(`--out must name a .png file, found \`${opts.out}\``);
    const count = Number(opts.count);
    if (!Number.isInteger(count) || count < 1 || count > 64)
      throw new UserError(`--count must be an integer from 1 to 64, found \`${opts.count}\``);
    if (opts.scale !== undefined && !/^[1-9]\d?$/.test(opts.scale))
      throw new UserError(`--scale must be an integer from 1 to 99, found \`${opts.scale}\``);
    if (!fs.existsSync(file)) throw new UserError(`${file}: no such file`);
    const overrides = await parseOverrides(file, opts.variant, opts.set, opts.config);
    const checked = await checkProgram({
      file,
      ...(opts.variant !== undefined ? { variant: opts.variant } : {}),
      overrides,
    });
    const masked = checked.trainSpec.stages.filter((s) => s.mask);
    const stage = opts.stage !== undefined ? checked.trainSpec.stages.find((s) => s.name === opts.stage) : masked[0];
    if (!stage) {
      const names = checked.trainSpec.stages.map((s) => s.name);
      throw new UserError(
        opts.stage !== undefined
          ? `no stage \`${opts.stage}\` (stages: ${names.join(', ')})`
          : `no stage of ${file} has a mask policy (stages: ${names.join(', ')})`,
      );
    }
    if (!stage.mask)
      throw new UserError(
        `stage \`${stage.name}\` has no mask policy${masked.length ? ` (masked stages: ${masked.map((s) => s.name).join(', ')})` : ''}`,
      );
    const [{ firstMaskedBatch }, { initBackend }, { default: sharp }] = await Promise.all([
      import('../../runtime/train/index.js'),
      import('../../runtime/backend.js'),
      import('sharp'),
    ]);
    // No model runs: the plain cpu backend loads and augments the few samples shown.
    await initBackend({ backend: 'cpu', quiet: true });
    const data = await loadProgramData(file, checked);
    const preview = firstMaskedBatch(checked.trainSpec.seed, stage, data, count);
    try {
      const [n, h, w, c] = preview.images.shape;
      const [, gh, gw] = preview.mask.shape;
      const scale = opts.scale !== undefined ? Number(opts.scale) : Math.max(1, Math.ceil(128 / Math.max(h, w)));
      const sheet = maskSheet(
        preview.images.dataSync() as Float32Array,
        preview.mask.dataSync() as Float32Array,
        n,
        h,
        w,
        c,
        gh,
        gw,
        scale,
      );
      fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
      writeFileAtomicSync(
        opts.out,
        await sharp(Buffer.from(sheet.data), { raw: { width: sheet.width, height: sheet.height, channels: 3 } })
          .png()
          .toBuffer(),
      );
      const removed = Array.from(preview.mask.dataSync()).filter((v) => v === 1).length;
      process.stderr.write(
        `wrote ${opts.out}: stage ${stage.name}, the first ${n} of step 1's batch of ${stage.batchSize} (patients ${preview.patientIds.join(', ')}); ` +
          `${preview.input} ${h}x${w}, ${gh}x${gw} patches of ${stage.mask.patch} px, ${removed} of ${n * gh * gw} removed (ratio ${stage.mask.ratio})\n`,
      );
    } finally {
      preview.images.dispose();
      preview.mask.dispose();
    }
  });
}
