/**
 * The optimizer contract and the machinery shared by Lion and AdamW.
 * In: gradients keyed by parameter path (runtime/module.ts paths), the module's named
 * parameters, and the learning rate of this step. Out: parameters updated in place, with
 * per-parameter slot variables (moments) keyed by the same path. Holds afterwards: frozen
 * (trainable=false) parameters and parameters without a gradient are untouched and get no
 * slots; weight decay is applied only to parameters the no-decay rule does not exclude; every
 * temporary lives inside tf.tidy, so the live tensor count grows only by the slots created.
 */
import * as tf from '@tensorflow/tfjs';
import type { Parameter } from '../module.js';
import type { HostTensor } from '../io/safetensors.js';

/** What a checkpoint stores of an optimizer: plain host data, writable as safetensors. */
export interface OptimizerState {
  readonly kind: string;
  /** Number of steps taken (AdamW's bias correction uses it). */
  readonly step: number;
  /** Hyper-parameters at save time, for reporting and sanity checks. */
  readonly hyper: Readonly<Record<string, number>>;
  /** Slot tensors keyed `<parameter path>#<slot>`, e.g. `stages.0.0.dwconv.weight#m`. */
  readonly slots: ReadonlyMap<string, HostTensor>;
}

export interface Optimizer {
  readonly kind: string;
  /** Steps taken so far. */
  readonly stepCount: number;
  /** One update. `lr` is the learning rate of this step (from a Schedule). */
  step(grads: ReadonlyMap<string, tf.Tensor>, params: ReadonlyArray<readonly [string, Parameter]>, lr: number): void;
  state(): Promise<OptimizerState>;
  /** Restores slots and step count saved by `state()` of an optimizer of the same kind. */
  loadState(state: OptimizerState): void;
  /** The decision for each parameter: decayed, not decayed, or frozen. */
  groups(params: ReadonlyArray<readonly [string, Parameter]>): ParameterGroups;
  dispose(): void;
}

/**
 * Which parameters get no weight decay:
 * - `flagged` (default): exactly those created with `noDecay` (biases, norms, GRN gamma/beta).
 * - `finetune`: the official fine-tuning rule (ConvNeXt-V2 optim_factory after 2023-01-26):
 *   flagged, or rank <= 1, or the name ends in `.bias`, `.gamma` or `.beta`.
 * - `pretrain`: the FCMAE pre-training rule (timm add_weight_decay on the official layout):
 *   names ending `.bias`, and parameters that are 1-D in the official layout. GRN gamma/beta
 *   (official shape (1,1,1,C)) and `mask_token` ARE decayed, even though they are 1-D here;
 *   the `noDecay` flag is ignored by this rule.
 * - a predicate `(path, parameter) => boolean` returning true for "no decay".
 */
export type NoDecayRule = 'flagged' | 'finetune' | 'pretrain' | ((path: string, parameter: Parameter) => boolean);

export interface OptimizerOptions {
  /** Decoupled weight decay coefficient. */
  readonly weightDecay?: number;
  readonly noDecay?: NoDecayRule;
  /** Clip gradients so that their global L2 norm is at most this (torch clip_grad_norm_ semantics). */
  readonly clipGradNorm?: number;
  /** Per-parameter learning-rate multiplier (layer-wise decay); default 1. */
  readonly lrScale?: (path: string) => number;
}

export interface ParameterGroups {
  readonly decay: string[];
  readonly noDecay: string[];
  readonly frozen: string[];
}

export function isNoDecay(rule: NoDecayRule, path: string, p: Parameter): boolean {
  const rank = p.variable.shape.length;
  if (typeof rule === 'function') return rule(path, p);
  switch (rule) {
    case 'flagged':
      return p.noDecay;
    case 'finetune':
      return p.noDecay || rank <= 1 || /\.(bias|gamma|beta)$/.test(path) || /^(bias|gamma|beta)$/.test(path);
    case 'pretrain': {
      const name = path.split('.').pop() ?? path;
      if (name === 'bias') return true;
      if (name === 'gamma' || name === 'beta' || name === 'mask_token') return false;
      return rank <= 1;
    }
  }
}

export abstract class SlotOptimizer implements Optimizer {
  abstract readonly kind: string;
  protected readonly slotVars = new Map<string, tf.Variable>();
  protected t = 0;
  protected readonly weightDecay: number;
  protected readonly noDecay: NoDecayRule;
  protected readonly clipGradNorm: number | undefined;
  protected readonly lrScale: ((path: string) => number) | undefined;

  protected constructor(options: OptimizerOptions, defaultWeightDecay: number) {
    this.weightDecay = options.weightDecay ?? defaultWeightDecay;
    this.noDecay = options.noDecay ?? 'flagged';
    this.clipGradNorm = options.clipGradNorm;
    this.lrScale = options.lrScale;
    if (!(this.weightDecay >= 0)) throw new RangeError(`weight decay must be >= 0, got ${this.weightDecay}`);
    if (this.clipGradNorm !== undefined && !(this.clipGradNorm > 0))
      throw new RangeError(`clipGradNorm must be > 0, got ${this.clipGradNorm}`);
  }

  get stepCount(): number {
    return this.t;
  }

  /** Names of the slots this optimizer keeps per parameter, e.g. ['m'] or ['m', 'v']. */
  protected abstract readonly slotNames: readonly string[];
  protected abstract hyper(): Record<string, number>;
  /** Applies one update to `param` (inside tidy); `t` is the 1-based step number. */
  protected abstract update(
    param: tf.Variable,
    grad: tf.Tensor,
    slots: tf.Variable[],
    lr: number,
    weightDecay: number,
    t: number,
  ): void;

  groups(params: ReadonlyArray<readonly [string, Parameter]>): ParameterGroups {
    const g: ParameterGroups = { decay: [], noDecay: [], frozen: [] };
    for (const [path, p] of params) {
      if (!p.trainable) g.frozen.push(path);
      else if (isNoDecay(this.noDecay, path, p)) g.noDecay.push(path);
      else g.decay.push(path);
    }
    return g;
  }

  step(grads: ReadonlyMap<string, tf.Tensor>, params: ReadonlyArray<readonly [string, Parameter]>, lr: number): void {
    if (!Number.isFinite(lr) || lr < 0) throw new RangeError(`learning rate must be a finite number >= 0, got ${lr}`);
    const byPath = new Map(params);
    for (const path of grads.keys()) {
      if (!byPath.has(path)) throw new Error(`gradient for unknown parameter '${path}'`);
    }
    const active = params.filter(([path, p]) => p.trainable && grads.has(path));
    for (const [path, p] of active) {
      const g = grads.get(path)!;
      if (g.shape.length !== p.variable.shape.length || g.shape.some((d, i) => d !== p.variable.shape[i])) {
        throw new Error(
          `gradient for '${path}' has shape [${g.shape.join(', ')}] but the parameter is ` +
            `[${p.variable.shape.join(', ')}]`,
        );
      }
    }
    this.t += 1;
    const t = this.t;
    tf.tidy(() => {
      let scale: tf.Scalar | undefined;
      if (this.clipGradNorm !== undefined && active.length > 0) {
        const sq = active.map(([path]) => tf.sum(tf.square(grads.get(path)!)));
        const norm = tf.sqrt(tf.addN(sq));
        scale = tf.minimum(
          tf.scalar(1),
          tf.div(tf.scalar(this.clipGradNorm), tf.add(norm, tf.scalar(1e-6))),
        ) as tf.Scalar;
      }
      for (const [path, p] of active) {
        const raw = grads.get(path)!;
        const g = scale ? tf.mul(raw, scale) : raw;
        const wd = isNoDecay(this.noDecay, path, p) ? 0 : this.weightDecay;
        const lrHere = lr * (this.lrScale ? this.lrScale(path) : 1);
        this.update(p.variable, g, this.slotsFor(path, p.variable), lrHere, wd, t);
      }
    });
  }

  private slotsFor(path: string, v: tf.Variable): tf.Variable[] {
    return this.slotNames.map((name) => {
      const key = `${path}#${name}`;
      let s = this.slotVars.get(key);
      if (!s) {
        s = tf.variable(tf.zerosLike(v), false);
        this.slotVars.set(key, s);
      } else if (s.shape.some((d, i) => d !== v.shape[i]) || s.shape.length !== v.shape.length) {
        throw new Error(
          `optimizer slot '${key}' has shape [${s.shape.join(', ')}] but the parameter is ` +
            `[${v.shape.join(', ')}] (state from another model?)`,
        );
      }
      return s;
    });
  }

  async state(): Promise<OptimizerState> {
    const slots = new Map<string, HostTensor>();
    for (const [key, v] of [...this.slotVars].sort(([a], [b]) => (a < b ? -1 : 1))) {
      slots.set(key, { dtype: 'float32', shape: [...v.shape], data: (await v.data()) as Float32Array });
    }
    return { kind: this.kind, step: this.t, hyper: this.hyper(), slots };
  }

  loadState(state: OptimizerState): void {
    if (state.kind !== this.kind)
      throw new Error(`cannot load ${state.kind} optimizer state into a ${this.kind} optimizer`);
    if (!Number.isInteger(state.step) || state.step < 0)
      throw new Error(`optimizer state has an invalid step count ${state.step}`);
    for (const key of state.slots.keys()) {
      const slot = key.slice(key.lastIndexOf('#') + 1);
      if (!key.includes('#') || !this.slotNames.includes(slot))
        throw new Error(
          `optimizer state has an unknown slot '${key}' (a ${this.kind} optimizer keeps ${this.slotNames.join(', ')})`,
        );
    }
    this.disposeSlots();
    for (const [key, h] of state.slots) {
      if (h.dtype !== 'float32') throw new Error(`optimizer slot '${key}' must be float32`);
      this.slotVars.set(
        key,
        tf.tidy(() => tf.variable(tf.tensor(h.data, [...h.shape], 'float32'), false)),
      );
    }
    this.t = state.step;
  }

  private disposeSlots(): void {
    for (const v of this.slotVars.values()) v.dispose();
    this.slotVars.clear();
  }

  dispose(): void {
    this.disposeSlots();
  }
}
