/**
 * The training plan as plain JSON: what the compiler lowers a `train` declaration into and what
 * the stage runner (runtime/train/runner.ts) executes.
 * In: a `train Name on Dataset { settings; stage name { settings } ... }` declaration (dsl/ast.ts
 * TrainDecl/StageDecl) after variants and `--set` edits are applied and every value is resolved
 * to a literal. Out: a `TrainSpec` that is JSON-serialisable (it is written verbatim into every
 * checkpoint as the resolved configuration) plus, from generated code, one `ModelFactory` per
 * model reference. Holds afterwards: every number the program states (mask ratio, patch, lr,
 * betas, warmup, cosine floor, epochs, batch, random-throw p and fill) is a field here; the
 * runtime hides no training constant of its own beyond the defaults documented on each field.
 *
 * The reference program lowers as follows (settings are `key = value`, see dsl/ast.ts):
 *
 * ```
 * train MEDNVC_on_PJI on PJI {
 *   seed = 7
 *   checkpoint_every = 200                       // TrainSpec.checkpointEverySteps
 *   pooling = max                                // TrainSpec.pooling (per-patient evaluation)
 *   stage pretrain {
 *     model = FCMAE(encoder = ConvNeXtV2Encoder(...), decoder = FCMAEDecoder(dim = 512), patch = 32)
 *     inputs = [xray]
 *     mask = random_patches(ratio = 0.6, patch = 32)
 *     loss = masked_mse(target = patch_normalized(xray))
 *     optimizer = lion(lr = 5e-5)
 *     schedule = warmup(epochs = 10) then cosine(to = 5e-7)
 *     epochs = 800
 *     batch = 24
 *     augment = [hflip, rotate(degrees = 15)]
 *   }
 *   stage finetune {
 *     model = MEDNVC(enc = pretrain.encoder)
 *       // => handover { from: 'pretrain', modules: [{ source: 'encoder', target: 'enc' }] }
 *     inputs = [xray, labs]
 *     modality_dropout = random_throw(p = 0.2, fill = -10)
 *     loss = cross_entropy
 *     optimizer = lion(lr = 5e-6)
 *     schedule = warmup(epochs = 10) then cosine(to = 5e-8)
 *     epochs = 160
 *     batch = 24
 *     metrics = [accuracy, auc, sensitivity, specificity]
 *     keep_best = val.auc
 *   }
 * }
 * ```
 */
import type * as tf from '@tensorflow/tfjs';
import type { KeptRounding } from '../ops/mask.js';
import type { ForwardContext, Module } from '../module.js';
import type { AugmentSpec, Pooling } from '../data/spec.js';

export type { AugmentSpec };

/** Any JSON value (constructor arguments, resolved configuration). */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** The whole `train` declaration. */
export interface TrainSpec {
  /** `train MEDNVC_on_PJI on PJI`: the declaration's name. */
  readonly name: string;
  /** `... on PJI`: the dataset declaration the stages read (the DatasetSpec passed alongside). */
  readonly dataset: string;
  /**
   * `seed = 7` in the train body (or `nvcc train --seed`). Root of every RNG stream: parameter
   * init, data order, augmentation, masks, dropout, modality dropout (each a labelled fork).
   */
  readonly seed: number;
  /** Stages in declaration order; a stage can only take weights from an earlier one. */
  readonly stages: readonly StageSpec[];
  /**
   * `checkpoint_every = 200` (steps). A checkpoint is also written at the end of every epoch.
   * Default: only at epoch ends.
   */
  readonly checkpointEverySteps?: number;
  /**
   * `pooling = max | mean`: how the scores of several images of one patient are pooled into one
   * patient score for evaluation. Default: the dataset's `pool`. A stage may override it.
   */
  readonly pooling?: PoolingKind;
}

export type StageKind = 'masked' | 'supervised';

/** One `stage name { ... }`. */
export interface StageSpec {
  /** `stage pretrain`: the stage's name, used by `from` in later hand-overs and in run folders. */
  readonly name: string;
  /**
   * Derived by the compiler: `masked` exactly when the stage has a `mask = ...` policy
   * (self-supervised, no labels used), otherwise `supervised`.
   */
  readonly kind: StageKind;
  /** `model = MEDNVC(enc = pretrain.encoder, classes = 2)` */
  readonly model: ModelRef;
  /**
   * `inputs = [xray, labs]`: the dataset modalities fed to `forward`, by name (image modality
   * names and lab field-group names of the dataset declaration). Default: every modality the
   * model's forward declares.
   */
  readonly inputs: readonly string[];
  /** `mask = random_patches(ratio = 0.6, patch = 32)`; present iff kind === 'masked'. */
  readonly mask?: MaskPolicy;
  /** `loss = masked_mse(target = patch_normalized(xray))` | `loss = cross_entropy(label_smoothing = 0.1)` */
  readonly loss: LossSpec;
  /** `optimizer = lion(lr = 5e-5, betas = [0.9, 0.99], weight_decay = 0.05)` */
  readonly optimizer: OptimizerSpec;
  /**
   * `schedule = warmup(epochs = 10) then cosine(to = 5e-7)`: the phases in order. Epoch counts
   * are converted to steps with the stage's steps per epoch; the lr is set before every step.
   * Empty list = constant lr.
   */
  readonly schedule: readonly SchedulePhase[];
  /** `epochs = 800` */
  readonly epochs: number;
  /** `batch = 24` */
  readonly batchSize: number;
  /**
   * `micro_batch = 4`: compute each batch's gradient over chunks of this many samples and step
   * once (same update up to rounding, a fraction of the activation memory). Default: whole batch.
   */
  readonly microBatch?: number;
  /**
   * `augment = [hflip, rotate(degrees = 15), random_resized_crop(scale = [0.8, 1])]`, lowered
   * to the data runtime's AugmentSpec (hflip = 0.5, rotateDegrees = 15, ...); applied to the
   * images of the train split only, drawn from the stage's `augment` RNG stream.
   */
  readonly augment: AugmentSpec;
  /**
   * `metrics = [accuracy, auc, sensitivity, specificity]`: evaluated per patient on the
   * validation split every epoch and on the test split at the end (supervised stages only;
   * masked stages report the validation loss).
   */
  readonly metrics: readonly MetricName[];
  /** `keep_best = val.auc` (mode `max` for auc/accuracy/sensitivity/specificity, `min` for loss). */
  readonly keepBest?: KeepBest;
  /** Derived from `model = MEDNVC(enc = pretrain.encoder)`: weights taken from earlier stages. */
  readonly handover: readonly Handover[];
  /** `freeze = [enc.stages.0, enc.downsample_layers.0]`: module paths not updated in this stage. */
  readonly freeze: readonly string[];
  /** `modality_dropout = random_throw(p = 0.2, fill = -10, modalities = [xray, labs])` */
  readonly modalityDropout?: ModalityDropout;
  /**
   * `seed = 3` inside the stage; default: derived from TrainSpec.seed and the stage name, so
   * removing one stage does not change another stage's randomness.
   */
  readonly seed?: number;
  /** `pooling = mean` inside the stage; overrides TrainSpec.pooling. */
  readonly pooling?: PoolingKind;
}

/** Which generated model a stage trains. */
export interface ModelRef {
  /**
   * Key into the `models` registry passed to runTraining (Record<string, ModelFactory>). The
   * compiler emits one factory per distinct (class, arguments) pair; the key is its choice
   * (by convention the stage name).
   */
  readonly factory: string;
  /** `MEDNVC`: the generated class name, for logs and the resolved configuration. */
  readonly className: string;
  /** Resolved constructor arguments, for the resolved configuration (sub-models as strings). */
  readonly args: { readonly [key: string]: JsonValue };
}

/**
 * `random_patches(ratio = 0.6, patch = 32)`: per sample, `floor(L * (1 - ratio))` (float64, as
 * the official gen_random_mask; `kept = decimal` snaps, see ops/mask.ts keptCount) of the
 * L = (H / patch) * (W / patch) patches stay visible (0), the rest are removed (1); drawn from
 * the stage's `mask` RNG stream (convnextv2-fcmae.md §3.2). The mask is put in ctx.mask as
 * [N, H / patch, W / patch, 1].
 */
export interface MaskPolicy {
  readonly kind: 'random_patches';
  readonly ratio: number;
  readonly patch: number;
  /** The image input the mask is drawn for (its H and W set the grid). Default: first image input. */
  readonly input?: string;
  /** How many patches stay visible (ops/mask.ts keptCount); default 'official'. */
  readonly kept?: KeptRounding;
}

export type LossSpec = MaskedMseLoss | CrossEntropyLoss;

/**
 * `masked_mse(target = patch_normalized(xray))`: per-patch MSE between the prediction and the
 * patchified input, each target patch normalised by its own mean and unbiased variance
 * (eps 1e-6) when target is `patch_normalized`; averaged over removed patches of the whole
 * batch (convnextv2-fcmae.md §3.6). `target = pixels(xray)` uses the raw patches.
 */
export interface MaskedMseLoss {
  readonly kind: 'masked_mse';
  readonly target: 'patch_normalized' | 'pixels';
  /** The input whose patches are the target (`xray`). */
  readonly input: string;
}

/** `cross_entropy` or `cross_entropy(label_smoothing = 0.1)`: mean over the batch. */
export interface CrossEntropyLoss {
  readonly kind: 'cross_entropy';
  readonly labelSmoothing: number;
}

export interface OptimizerSpec {
  /** `lion(...)` or `adamw(...)` */
  readonly kind: 'lion' | 'adamw';
  /** Peak learning rate (`lr = 5e-5`); the schedule scales it per step. */
  readonly lr: number;
  /** `betas = [0.9, 0.99]`. Default lion [0.9, 0.99], adamw [0.9, 0.999]. */
  readonly betas: readonly [number, number];
  /** `weight_decay = 0.05`, decoupled. Default 0. */
  readonly weightDecay: number;
  /** `eps = 1e-8` (adamw only). */
  readonly eps?: number;
  /**
   * `no_decay = [flagged, rank1, suffix(".bias")]`: parameters matching any rule get weight
   * decay 0. Default `[flagged, rank1]` (flagged = Parameter.noDecay set by the layer).
   */
  readonly noDecay: readonly NoDecayRule[];
  /** `clip_grad_norm = 1.0`: global L2 norm clipping. Default: none. */
  readonly clipGradNorm?: number;
}

export type NoDecayRule =
  /**
   * `official(finetune)` / `official(pretrain)`: the ConvNeXt-V2 rules of runtime/optim
   * (fine-tuning: flagged, rank <= 1, `.bias/.gamma/.beta`; FCMAE pre-training: `.bias` and
   * official-1-D parameters, GRN gamma/beta and mask_token decayed).
   */
  | { readonly kind: 'official'; readonly rule: 'finetune' | 'pretrain' }
  | { readonly kind: 'flagged' }
  | { readonly kind: 'rank1' }
  | { readonly kind: 'suffix'; readonly suffix: string }
  | { readonly kind: 'prefix'; readonly prefix: string };

/**
 * One phase of `schedule = a then b then c`. A phase without `epochs` takes the remaining
 * epochs of the stage (only the last phase may omit it). Multipliers apply to OptimizerSpec.lr.
 */
export type SchedulePhase =
  /** `warmup(epochs = 10, from = 0)`: linear from `from`·lr to lr, per step. */
  | { readonly kind: 'warmup'; readonly epochs: number; readonly from?: number }
  /** `cosine(to = 5e-7)`: half-cycle cosine from the current lr down to the absolute lr `to`. */
  | { readonly kind: 'cosine'; readonly to: number; readonly epochs?: number }
  /** `constant(epochs = 5)`: hold the current lr. */
  | { readonly kind: 'constant'; readonly epochs?: number }
  /** `linear(to = 1e-6)`: linear from the current lr to the absolute lr `to`. */
  | { readonly kind: 'linear'; readonly to: number; readonly epochs?: number };

export type MetricName = 'accuracy' | 'auc' | 'sensitivity' | 'specificity' | 'loss';

/** `keep_best = val.auc` or `keep_best = min(val.loss)`. */
export interface KeepBest {
  /** `val.<metric>`. */
  readonly metric: `val.${MetricName}`;
  readonly mode: 'max' | 'min';
}

/**
 * `model = MEDNVC(enc = pretrain.encoder)`: every parameter under `<source>.` of stage `from`'s
 * final model (its kept-best weights when it declared keep_best) is copied to `<target>.` of
 * this stage's model. Names and shapes are checked; a missing or mismatched parameter is an
 * error, listed in full.
 */
export interface Handover {
  readonly from: string;
  /** Module path pairs; an empty source or target string means the model root. */
  readonly modules: readonly { readonly source: string; readonly target: string }[];
}

/**
 * `modality_dropout = random_throw(p = 0.2, fill = -10, modalities = [xray, labs])`: during
 * training, for each sample with probability p, one of `modalities` (chosen uniformly) is
 * replaced entirely by `fill`. Default modalities: the stage's inputs.
 */
export interface ModalityDropout {
  readonly kind: 'random_throw';
  readonly p: number;
  readonly fill: number;
  readonly modalities: readonly string[];
}

/** Patient pooling of per-image scores; default: the dataset's `pool`. */
export type PoolingKind = Pooling;

// ---------------------------------------------------------------------------------------------
// The contract generated model code implements.

/**
 * A trainable network: a Module with a forward pass over named inputs.
 *
 * Supervised stages: `forward(ctx, inputs)` returns logits [B, classes], or a record holding
 * `logits` (other entries such as `features` are ignored by the trainer). The runner computes
 * the declared loss.
 *
 * Masked stages: the runner draws the patch mask and passes it as ctx.mask ([N, gh, gw, 1],
 * 1 = removed). The model returns a record with `pred`: the reconstruction, either
 * [N, gh, gw, patch * patch * C] (NHWC decoder output) or [N, gh * gw, patch * patch * C],
 * with elements of a patch ordered (row, col, channel) with channel fastest. The runner
 * computes the declared masked loss from `pred`, ctx.mask and the target input. A model that
 * computes its own loss may instead return `loss` (a scalar), which the runner then uses as is.
 *
 * Tensors returned are owned by the caller; forward runs inside the caller's tf.tidy.
 */
export interface TrainableModel extends Module {
  forward(ctx: ForwardContext, inputs: Readonly<Record<string, tf.Tensor>>): tf.Tensor | Record<string, tf.Tensor>;
}

/**
 * Builds a fresh model (parameters initialised from the init RNG set with setInitRng). The
 * runner calls it once per stage with the stage's init RNG stream already installed.
 */
export interface ModelFactory {
  create(): TrainableModel;
}
