/**
 * The module contract shared by hand-written layers and compiler-generated code.
 * In: layer classes that register parameters and children in their constructors. Out: a tree
 * of Modules with stable dotted parameter paths (`stages.0.1.dw.weight`) that optimizers,
 * weight I/O, stage hand-over and freezing all key on. Holds afterwards: a path names exactly
 * one parameter; parameters are tf.Variables created on the active backend (select it first:
 * see backend.ts), initialised from the seeded init RNG, so two builds with one seed are equal.
 * Buffers (`buffer(...)`, e.g. BatchNorm's running statistics) are state that is saved and
 * loaded with the parameters under the same kind of path (`bn1.running_mean`), in PyTorch's
 * state_dict order (a module's parameters, its buffers, then its children), but is no parameter:
 * `namedParameters`, `parameterCount`, freezing and the optimizer never see it; the layer that
 * owns a buffer updates it in its forward pass.
 */
import * as tf from '@tensorflow/tfjs';

/** A deterministic random source. Implemented in rng.ts. */
export interface Rng {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Standard normal. */
  normal(): number;
  /** An independent stream derived from this one and a label (stable across runs). */
  fork(label: string): Rng;
  /** Serialisable state, for checkpoints. */
  state(): RngState;
}

export interface RngState {
  readonly algorithm: string;
  readonly words: readonly number[];
}

/** Creates the initial value of a parameter. */
export type Initializer = (shape: readonly number[], rng: Rng) => tf.Tensor;

export interface ParameterOptions {
  /** Excluded from weight decay (biases, norms, GRN gamma/beta). Default: false. */
  readonly noDecay?: boolean;
  /** Not updated by the optimizer. Default: trainable. */
  readonly trainable?: boolean;
}

export interface Parameter {
  /** Name within its owning module, e.g. `weight`. */
  readonly name: string;
  readonly variable: tf.Variable;
  readonly noDecay: boolean;
  trainable: boolean;
}

/**
 * What a forward pass can see besides its inputs: training mode, the dropout RNG, and the
 * current patch mask when a stage runs with a mask policy.
 */
export interface ForwardContext {
  readonly training: boolean;
  readonly rng: Rng;
  /**
   * Patch mask of shape [N, gh, gw, 1], 1 = removed, 0 = visible, on the patch grid. Present
   * only while a stage has a mask policy; `sparse` layers run masked exactly when it is set.
   */
  readonly mask?: tf.Tensor4D;
}

/** Non-trained state of a module (running statistics), saved and loaded with the parameters. */
export interface ModuleBuffer {
  readonly name: string;
  readonly variable: tf.Variable;
}

let initRng: Rng | undefined;

/** Sets the RNG used to initialise parameters of modules constructed from now on. */
export function setInitRng(rng: Rng): void {
  initRng = rng;
}

export function getInitRng(): Rng {
  if (!initRng) throw new Error('nvcc runtime: call setInitRng(...) (or nv.seed(n)) before building modules');
  return initRng;
}

export abstract class Module {
  private readonly ownParams = new Map<string, Parameter>();
  private readonly ownChildren = new Map<string, Module>();
  private readonly ownBuffers = new Map<string, ModuleBuffer>();

  /** Registers a parameter; its path is `<module path>.<name>`. */
  protected param(
    name: string,
    shape: readonly number[],
    init: Initializer,
    options: ParameterOptions = {},
  ): tf.Variable {
    this.refuseDuplicate(name);
    const initial = init(shape, getInitRng());
    const variable = tf.variable(initial, options.trainable ?? true);
    initial.dispose();
    this.ownParams.set(name, {
      name,
      variable,
      noDecay: options.noDecay ?? false,
      trainable: options.trainable ?? true,
    });
    return variable;
  }

  /**
   * Registers a buffer: saved and loaded like a parameter, never trained. A constant start
   * (`value` a number: BatchNorm's statistics) draws nothing from the init RNG, so adding one
   * changes no weight; an initializer (a `.nvc` `buffer` declared `= normal(...)`) draws like a
   * parameter.
   */
  protected buffer(
    name: string,
    shape: readonly number[],
    value: number | Initializer,
    dtype: 'float32' | 'int32' = 'float32',
  ): tf.Variable {
    this.refuseDuplicate(name);
    const variable = tf.tidy(() =>
      tf.variable(
        typeof value === 'number' ? tf.fill([...shape], value, dtype) : tf.cast(value(shape, getInitRng()), dtype),
        false,
      ),
    );
    this.ownBuffers.set(name, { name, variable });
    return variable;
  }

  private refuseDuplicate(name: string): void {
    if (this.ownParams.has(name) || this.ownChildren.has(name) || this.ownBuffers.has(name))
      throw new Error(`duplicate member '${name}'`);
  }

  /** Registers a child module (a layer, a block, or a list of them). */
  protected child<M extends Module>(name: string, module: M): M {
    this.refuseDuplicate(name);
    this.ownChildren.set(name, module);
    return module;
  }

  children(): ReadonlyMap<string, Module> {
    return this.ownChildren;
  }

  /** Every parameter below this module, in registration order, with its dotted path. */
  namedParameters(prefix = ''): Array<[string, Parameter]> {
    const out: Array<[string, Parameter]> = [];
    for (const [name, p] of this.ownParams) out.push([prefix + name, p]);
    for (const [name, c] of this.ownChildren) out.push(...c.namedParameters(`${prefix}${name}.`));
    return out;
  }

  /** Every buffer below this module, in registration order, with its dotted path. */
  namedBuffers(prefix = ''): Array<[string, ModuleBuffer]> {
    const out: Array<[string, ModuleBuffer]> = [];
    for (const [name, b] of this.ownBuffers) out.push([prefix + name, b]);
    for (const [name, c] of this.ownChildren) out.push(...c.namedBuffers(`${prefix}${name}.`));
    return out;
  }

  /**
   * Everything a weights file holds: parameters and buffers by path, in PyTorch's state_dict
   * order (own parameters, own buffers, then each child's state).
   */
  namedState(prefix = ''): Array<[string, tf.Variable]> {
    const out: Array<[string, tf.Variable]> = [];
    for (const [name, p] of this.ownParams) out.push([prefix + name, p.variable]);
    for (const [name, b] of this.ownBuffers) out.push([prefix + name, b.variable]);
    for (const [name, c] of this.ownChildren) out.push(...c.namedState(`${prefix}${name}.`));
    return out;
  }

  /** Looks up a descendant by dotted path (`stages.2`), or undefined. */
  find(path: string): Module | undefined {
    let current: Module | undefined = this;
    for (const part of path.split('.').filter((s) => s.length > 0)) current = current?.ownChildren.get(part);
    return current;
  }

  parameterCount(): number {
    return this.namedParameters().reduce((n, [, p]) => n + p.variable.size, 0);
  }

  /** Marks every parameter below this module trainable or frozen. */
  setTrainable(trainable: boolean): void {
    for (const [, p] of this.namedParameters()) p.trainable = trainable;
  }

  dispose(): void {
    for (const [, v] of this.namedState()) v.dispose();
  }
}

/** An ordered list of modules registered as children `0`, `1`, ... (`repeat`, stage lists). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: readonly M[];

  constructor(items: readonly M[]) {
    super();
    items.forEach((m, i) => this.child(String(i), m));
    this.items = items;
  }

  get length(): number {
    return this.items.length;
  }

  at(i: number): M {
    const m = this.items[i];
    if (!m) throw new RangeError(`index ${i} out of range for a list of ${this.items.length}`);
    return m;
  }
}
