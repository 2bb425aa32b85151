/**
 * What a masked stage's first training step sees (`nvcc preview-mask`).
 * In: a checked program, one of its stages with `mask = random_patches(...)`, and how many
 * samples to show. Out: a PNG with the first N samples of that stage's first batch: top row as
 * the model receives them (augmented; contrast stretched per image and channel), bottom row
 * with every removed patch filled in a solid colour that no grey image contains; and a line
 * saying what it shows.
 * Holds afterwards: samples, augmentation and masks are the trainer's own draws for step 1
 * (runtime/train/preview.ts), so the picture shows the masking the run will do.
 */
import { removedPatchesText } from '../runtime/ops/kept-count.js';
import { UserError } from '../runtime/errors.js';
import type { StageSpec } from '../runtime/train/spec.js';
import { type CheckedProgram, loadProgramData } from './program.js';

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

export interface MaskPreview {
  readonly png: Buffer;
  /** What the picture shows: stage, samples, patients, input, patches removed. */
  readonly description: string;
}

/** Draws the first `count` samples of the stage's first batch; `scale` defaults to cells of at least 128 px. */
export async function maskPreview(
  file: string,
  checked: CheckedProgram,
  stage: StageSpec,
  count: number,
  scale?: number,
): Promise<MaskPreview> {
  const mask = stage.mask;
  if (!mask) throw new UserError(`stage \`${stage.name}\` has no mask policy`);
  const [{ firstMaskedBatch }, { initBackend }, { default: sharp }] = await Promise.all([
    import('../runtime/train/index.js'),
    import('../runtime/backend.js'),
    import('sharp'),
  ]);
  // No model runs: the plain cpu backend loads and augments the few samples shown.
  await initBackend({ backend: 'cpu', quiet: true });
  const data = await loadProgramData(file, checked);
  const preview = firstMaskedBatch(checked.trainSpec.seed, stage, data, count);
  try {
    const [n, h, w, c] = preview.images.shape;
    const [, gh, gw] = preview.mask.shape;
    const cellScale = scale ?? Math.max(1, Math.ceil(128 / Math.max(h, w)));
    const sheet = maskSheet(
      preview.images.dataSync() as Float32Array,
      preview.mask.dataSync() as Float32Array,
      n,
      h,
      w,
      c,
      gh,
      gw,
      cellScale,
    );
    const png = await sharp(Buffer.from(sheet.data), {
      raw: { width: sheet.width, height: sheet.height, channels: 3 },
    })
      .png()
      .toBuffer();
    const description =
      `stage ${stage.name}, the first ${n} of step 1's batch of ${stage.batchSize} ` +
      `(patients ${preview.patientIds.join(', ')}); ${preview.input} ${h}x${w}, ${gh}x${gw} patches of ` +
      `${mask.patch} px; mask ratio ${mask.ratio}: ${removedPatchesText(gh * gw, mask.ratio, mask.kept)}`;
    return { png, description };
  } finally {
    preview.images.dispose();
    preview.mask.dispose();
  }
}
