/**
 * An in-memory TrainingData for trainer tests (the data runtime's loader is tested on its own).
 * In: a size, seed and image side. Out: patients with 1-2 images [S, S, 1] and 3 lab values; the
 * label raises the image brightness in the top-left quadrant and the first lab value, so a tiny
 * model can learn it. Augmentation implements `hflip` from the given rng, one draw per sample.
 */
import * as tf from '@tensorflow/tfjs';
import type { AugmentSpec } from '../../runtime/data/spec.js';
import type { Rng } from '../../runtime/module.js';
import { createRng } from '../../runtime/rng.js';
import type { Batch, SplitName, TrainingData } from '../../runtime/train/data.js';

interface Sample {
  readonly patient: string;
  readonly label: number;
  readonly image: Float32Array;
  readonly labs: Float32Array;
}

export interface TinyDataOptions {
  readonly patients: Readonly<Record<SplitName, number>>;
  readonly seed: number;
  readonly side: number;
  readonly image?: string;
  readonly labs?: string;
}

export class TinyData implements TrainingData {
  readonly classes = ['negative', 'positive'];
  private readonly splits: Record<SplitName, Sample[]>;
  /** How many times `load` was called with augmentation (to show the hook is used). */
  augmentedLoads = 0;

  constructor(private readonly options: TinyDataOptions) {
    const rng = createRng(options.seed);
    const s = options.side;
    const make = (split: SplitName): Sample[] => {
      const out: Sample[] = [];
      for (let p = 0; p < options.patients[split]; p++) {
        const label = p % 2;
        const images = 1 + (p % 3 === 0 ? 1 : 0);
        for (let k = 0; k < images; k++) {
          const image = new Float32Array(s * s);
          for (let y = 0; y < s; y++)
            for (let x = 0; x < s; x++)
              image[y * s + x] = rng.normal() * 0.5 + (label && y < s / 2 && x < s / 2 ? 1 : 0);
          const labs = new Float32Array([rng.normal() + label, rng.normal(), rng.normal()]);
          out.push({ patient: `${split}-${p}`, label, image, labs });
        }
      }
      return out;
    };
    this.splits = { train: make('train'), val: make('val'), test: make('test') };
  }

  size(split: SplitName): number {
    return this.splits[split].length;
  }

  load(
    split: SplitName,
    indices: readonly number[],
    augment?: { readonly spec: AugmentSpec; readonly rng: Rng },
  ): Batch {
    const s = this.options.side;
    const samples = indices.map((i) => {
      const x = this.splits[split][i];
      if (!x) throw new RangeError(`${split} has no sample ${i}`);
      return x;
    });
    const pixels = new Float32Array(samples.length * s * s);
    samples.forEach((x, n) => {
      const flip = augment?.spec.hflip !== undefined && augment.rng.uniform() < augment.spec.hflip;
      for (let y = 0; y < s; y++)
        for (let c = 0; c < s; c++) pixels[n * s * s + y * s + c] = x.image[y * s + (flip ? s - 1 - c : c)]!;
    });
    if (augment) this.augmentedLoads++;
    const labs = new Float32Array(samples.length * 3);
    samples.forEach((x, n) => labs.set(x.labs, n * 3));
    return {
      inputs: {
        [this.options.image ?? 'xray']: tf.tensor4d(pixels, [samples.length, s, s, 1]),
        [this.options.labs ?? 'labs']: tf.tensor2d(labs, [samples.length, 3]),
      },
      labels: tf.tensor1d(
        samples.map((x) => x.label),
        'int32',
      ),
      patientIds: samples.map((x) => x.patient),
    };
  }
}
