/**
 * `nvcc summary` of the std/ torchvision models at ImageNet size (224 x 224, one image):
 * parameter counts equal torchvision 0.14's (`sum(p.numel() for p in model.parameters())`), and
 * MACs equal the sum over torchvision's modules of convolution, linear and attention
 * multiply-accumulates (forward hooks on torchvision 0.14 at 224: conv k*k*in/groups per output,
 * linear in per output, attention 2 * N^2 * D per layer besides its projections), nvcc's
 * convention (docs/language.md, Costs); torchvision's documentation rounds them to 4.09, 0.30 and 17.56 GFLOPS.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';

const CASES = [
  { file: 'std/resnet.nvc', model: 'resnet18', params: '11,689,512', macs: '1,814,073,344' },
  { file: 'std/resnet.nvc', model: 'resnet50', params: '25,557,032', macs: '4,089,184,256' },
  { file: 'std/mobilenetv2.nvc', model: 'mobilenet_v2', params: '3,504,872', macs: '300,774,272' },
  { file: 'std/vit.nvc', model: 'vit_b_16', params: '86,567,656', macs: '17,563,828,224' },
];

/**
 * U-Net is not in torchvision: std/unet.nvc follows milesial/Pytorch-UNet's UNet(3, 2,
 * bilinear = True), whose module tree rebuilt in torch 1.13 has 17,263,042 parameters and 110
 * state_dict entries (56 parameters, 18 BatchNorms with 3 buffers each).
 */
const UNET = { params: '17,263,042', buffers: '8,850 values in 54 tensors' };

describe('std/ torchvision models: parameter counts and MACs', () => {
  let out = '';
  beforeEach(() => {
    out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  for (const c of CASES)
    it(`${c.model}: ${c.params} parameters, ${c.macs} MACs`, async () => {
      out = '';
      expect(await main(['summary', c.file, '--model', c.model, '--depth', '0'])).toBe(0);
      expect(out).toContain(`Total params: ${c.params}\n`);
      expect(out).toContain(`MACs (multiply-accumulates, conv/linear/matmul/attention): ${c.macs} `);
    });

  it(`unet: ${UNET.params} parameters and 54 buffers`, async () => {
    expect(await main(['summary', 'std/unet.nvc', '--model', 'unet', '--depth', '0', '--dims', 'H=64,W=64'])).toBe(0);
    expect(out).toContain(`Total params: ${UNET.params}\n`);
    expect(out).toContain(`Buffers (saved with the weights, not trained): ${UNET.buffers}\n`);
  });
});
