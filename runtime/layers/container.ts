/**
 * Containers: Sequential (`a >> b`, children `0`, `1`, ...), Identity, and the ModuleList of
 * module.ts. Sequential passes all of its inputs to the first layer and each output to the next
 * layer, so `CrossAttention >> Linear` is called as seq.forward(ctx, x, kv).
 * In: child layers (constructor) and the forward inputs. Out: the last child's output.
 * Holds afterwards: child parameter paths are `<index>.<path>`; only the output outlives the call.
 */
import * as tf from '@tensorflow/tfjs';
import { type Module, ModuleList, type ForwardContext } from '../module.js';
import { Layer, type Callable } from './base.js';

export { ModuleList };

export class Sequential<M extends Module & Callable = Module & Callable> extends ModuleList<M> implements Callable {
  constructor(...layers: M[]) {
    super(layers);
  }

  forward(ctx: ForwardContext, ...inputs: tf.Tensor[]): tf.Tensor {
    if (this.items.length === 0) {
      if (inputs.length !== 1) throw new Error('an empty Sequential takes exactly one input');
      return inputs[0]!;
    }
    return tf.tidy(() => {
      let x = this.items[0]!.forward(ctx, ...inputs);
      for (let i = 1; i < this.items.length; i++) x = this.items[i]!.forward(ctx, x);
      return x;
    });
  }
}

export class Identity extends Layer {
  forward(_ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return x;
  }
}
