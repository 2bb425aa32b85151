/**
 * The torch rules of the primitive records (compiler/primitives/torch.ts) and nvcc_layers.py.
 * Checked: every record carries exactly one torch rule as `targets.torch`, of its kind (a
 * constructor for layers, a call for functions); and nvcc_layers.py gives the reference values
 * of docs' ConvNeXt-V2 reference (shared/reference/convnextv2-fcmae.md section 6, computed in
 * float64 from the formulas): exact GELU, GRN, LayerNorm with eps 1e-6, and the masked
 * behaviour (a sparse conv zeroes removed positions; visible()/patch_mask() follow the mask and
 * are the identity / zeros outside mask_context; mask_context(None) inside a mask ends it).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PRIMITIVES } from '../../compiler/primitives/index.js';
import { TORCH_RULES, type TorchLowering } from '../../compiler/primitives/torch.js';

describe('the torch rules of the primitive records', () => {
  it('give every record one torch rule (targets.torch), of the primitive kind', () => {
    expect(Object.keys(TORCH_RULES).sort()).toEqual([...PRIMITIVES.keys()].sort());
    for (const [name, p] of PRIMITIVES) {
      const rule = p.targets.torch as TorchLowering | undefined;
      expect(rule, name).toBe(TORCH_RULES[name]);
      expect('layer' in rule!.lower, name).toBe(p.kind === 'layer');
    }
  });
});

const SCRIPT = `
import json, sys
import torch
sys.path.insert(0, 'compiler/emit/torch/python')
import nvcc_layers as nv
torch.set_default_dtype(torch.float64)
out = {}
x = torch.tensor([-3, -1, -0.5, 0, 0.5, 1, 3], dtype=torch.float64)
out['gelu'] = torch.nn.functional.gelu(x).tolist()
g = torch.tensor([[[[1, -2, 0.5], [0, 3, -1]], [[2, 1, 1.5], [-1, 0, 2]]]], dtype=torch.float64)
out['grn'] = nv.grn(g, torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.01, 0.02, 0.03])).reshape(-1).tolist()
ln = nv.LayerNorm(3)
with torch.no_grad():
    ln.weight.copy_(torch.tensor([1.0, 2.0, 3.0])); ln.bias.copy_(torch.tensor([0.0, 0.5, -0.5]))
out['ln'] = ln(torch.tensor([[1.0, 2.0, 4.0]])).reshape(-1).tolist()
conv = nv.DepthwiseConv2d(1, kernel=3, sparse=True)
with torch.no_grad():
    conv.weight.fill_(1.0); conv.bias.fill_(0.0)
img = torch.ones(1, 4, 4, 1)
mask = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
out['dense'] = conv(img).reshape(-1).tolist()
with nv.mask_context(mask):
    out['masked'] = conv(img).reshape(-1).tolist()
    out['visible'] = nv.visible(img).reshape(-1).tolist()
    out['patch_mask'] = nv.patch_mask(img).reshape(-1).tolist()
    with nv.mask_context(None):
        out['inner'] = nv.visible(img).reshape(-1).tolist()
out['outside'] = nv.patch_mask(img).reshape(-1).tolist()
print(json.dumps(out))
`;

function close(actual: readonly number[], expected: readonly number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) =>
    expect(Math.abs(a - expected[i]!), `element ${i}: ${a} vs ${expected[i]}`).toBeLessThanOrEqual(tol),
  );
}

describe('nvcc_layers.py', () => {
  it('gives the reference values and the masked behaviour', () => {
    const run = spawnSync('/usr/bin/python3', ['-c', SCRIPT], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, `/usr/bin/python3 with python3-torch is needed:\n${run.stderr}`).toBe(0);
    const v = JSON.parse(run.stdout) as Record<string, number[]>;
    close(v.gelu!, [-0.00404969409, -0.158655254, -0.154268769, 0, 0.345731231, 0.841344746, 2.99595031], 1e-8);
    close(
      v.grn!,
      [1.09229187, -2.48281165, 0.668007668, 0.01, 3.77421748, -1.24601534].concat([
        2.17458375, 1.27140583, 1.944023, -1.07229187, 0.02, 2.58203067,
      ]),
      1e-7,
    );
    close(v.ln!, [-1.06904462, -0.034522312, 3.50891734], 1e-5);
    // A 3x3 box filter of ones over a 4x4 image of ones ('same' padding): corner 4, edge 6, inside 9.
    const dense = [4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4];
    close(v.dense!, dense, 1e-12);
    // The top-left 2x2 patch removed: its outputs are 0, and the others only count visible inputs.
    close(v.masked!, [0, 0, 4, 4, 0, 0, 7, 6, 4, 7, 8, 6, 4, 6, 6, 4], 1e-12);
    const keep = [0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    close(v.visible!, keep, 0);
    close(
      v.patch_mask!,
      keep.map((k) => 1 - k),
      0,
    );
    close(v.inner!, new Array(16).fill(1), 0);
    close(v.outside!, new Array(16).fill(0), 0);
  });
});
