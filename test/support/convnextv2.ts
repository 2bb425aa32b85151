/**
 * Hand-written ConvNeXt-V2 reference built from the runtime layers, for tests only (the
 * runtime's ConvNeXt-V2 comes from the compiled std library). Parameter paths are the official
 * ones: downsample_layers.i.{0,1}, stages.i.j.{dwconv,norm,pwconv1,grn,pwconv2}, norm, head.
 * Sparse mode (Sparse(model) or { sparse: true }) is the dense emulation of the FCMAE sparse
 * encoder when ctx.mask is set: K*LN(stem), zero before/after every dwconv and downsample conv,
 * GRN statistics over visible positions, re-zero after each residual add.
 */
import * as tf from '@tensorflow/tfjs';
import { ModuleList, type ForwardContext } from '../../runtime/module.js';
import {
  Conv2d,
  DepthwiseConv2d,
  DropPath,
  GRN,
  Layer,
  LayerNorm,
  Linear,
  Sequential,
  type SparseCapable,
} from '../../runtime/layers/index.js';
import { gelu, globalAvgPool, visible, type GrnStatistics } from '../../runtime/ops/index.js';

export interface BlockOptions {
  readonly dropPath?: number;
  readonly sparse?: boolean;
  readonly maskedStatistics?: GrnStatistics;
  /** Depthwise kernel size; 7 in ConvNeXt-V2, smaller for miniature test models. */
  readonly kernel?: number;
  /** Width of the inverted bottleneck as a multiple of `dim`; 4 in ConvNeXt-V2. */
  readonly mlpRatio?: number;
}

export class Block extends Layer implements SparseCapable {
  readonly dwconv: DepthwiseConv2d;
  readonly norm: LayerNorm;
  readonly pwconv1: Linear;
  readonly grn: GRN;
  readonly pwconv2: Linear;
  readonly dropPath: DropPath;
  sparse: boolean;

  constructor(
    readonly dim: number,
    options: BlockOptions = {},
  ) {
    super();
    this.sparse = options.sparse ?? false;
    const hidden = (options.mlpRatio ?? 4) * dim;
    this.dwconv = this.child('dwconv', new DepthwiseConv2d(dim, { kernel: options.kernel ?? 7, sparse: this.sparse }));
    this.norm = this.child('norm', new LayerNorm(dim));
    this.pwconv1 = this.child('pwconv1', new Linear(dim, hidden));
    this.grn = this.child('grn', new GRN(hidden, { sparse: this.sparse, maskedStatistics: options.maskedStatistics }));
    this.pwconv2 = this.child('pwconv2', new Linear(hidden, dim));
    this.dropPath = new DropPath(options.dropPath ?? 0);
  }

  forward(ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.forwardUntidied(ctx, x));
  }

  private forwardUntidied(ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    let y = this.dwconv.forward(ctx, x);
    y = this.norm.forward(ctx, y);
    y = this.pwconv1.forward(ctx, y);
    y = gelu(y);
    y = this.grn.forward(ctx, y);
    y = this.pwconv2.forward(ctx, y);
    const out = tf.add(x, this.dropPath.forward(ctx, y));
    return this.sparse ? visible(out, ctx) : out;
  }
}

export interface ConvNeXtV2Options {
  readonly inChans?: number;
  readonly depths: readonly number[];
  readonly dims: readonly number[];
  /** null = encoder only (no final norm/head). Default 1000. */
  readonly numClasses?: number | null;
  readonly dropPathRate?: number;
  readonly sparse?: boolean;
  readonly maskedStatistics?: GrnStatistics;
}

export class ConvNeXtV2 extends Layer {
  readonly downsampleLayers: ModuleList<Sequential>;
  readonly stages: ModuleList<Sequential<Block>>;
  readonly norm?: LayerNorm;
  readonly head?: Linear;

  constructor(options: ConvNeXtV2Options) {
    super();
    const { depths, dims } = options;
    const sparse = options.sparse ?? false;
    const inChans = options.inChans ?? 3;
    const ds: Sequential[] = [
      new Sequential<Layer>(
        new Conv2d(inChans, dims[0]!, { kernel: 4, stride: 4, sparse }),
        new LayerNorm(dims[0]!, { sparse }),
      ),
    ];
    for (let i = 1; i < dims.length; i++)
      ds.push(
        new Sequential<Layer>(
          new LayerNorm(dims[i - 1]!, { sparse }),
          new Conv2d(dims[i - 1]!, dims[i]!, { kernel: 2, stride: 2, sparse }),
        ),
      );
    this.downsampleLayers = this.child('downsample_layers', new ModuleList(ds));
    const total = depths.reduce((a, b) => a + b, 0);
    const rate = options.dropPathRate ?? 0;
    let cur = 0;
    const stages: Sequential<Block>[] = [];
    for (let i = 0; i < dims.length; i++) {
      const blocks: Block[] = [];
      for (let j = 0; j < depths[i]!; j++) {
        const r = total > 1 ? (rate * (cur + j)) / (total - 1) : 0;
        blocks.push(new Block(dims[i]!, { dropPath: r, sparse, maskedStatistics: options.maskedStatistics }));
      }
      cur += depths[i]!;
      stages.push(new Sequential(...blocks));
    }
    this.stages = this.child('stages', new ModuleList(stages));
    const classes = options.numClasses === undefined ? 1000 : options.numClasses;
    if (classes !== null) {
      const last = dims[dims.length - 1]!;
      this.norm = this.child('norm', new LayerNorm(last));
      this.head = this.child('head', new Linear(last, classes));
    }
  }

  /** Encoder features [N, H/32, W/32, d3] (zeros at removed cells in masked mode). */
  features(ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      for (let i = 0; i < this.stages.length; i++) {
        x = this.downsampleLayers.at(i).forward(ctx, x);
        x = this.stages.at(i).forward(ctx, x);
      }
      return x;
    });
  }

  forward(ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const f = this.features(ctx, x);
      if (!this.norm || !this.head) return f;
      return this.head.forward(ctx, this.norm.forward(ctx, globalAvgPool(f)));
    });
  }
}

export const ATTO = { depths: [2, 2, 6, 2], dims: [40, 80, 160, 320] } as const;
