// MED-NVC's structure variants: the encoder is any std/encoder.nvc ImageEncoder and the fusion
// point a parameter, so `swin`, `resnet` and `fuse_after_3` are one-line edits; `nvcc diff` shows them.
import { describe, expect, it } from 'vitest';
import { diffPrograms, formatProgramDiff } from '../../compiler/diagram/diff.js';
import type { ModuleNode, ProgramIR } from '../../compiler/ir/ir.js';
import { golden, program } from '../diagram/support.js';

const FILE = 'examples/mednvc.nvc';

function finetune(p: ProgramIR) {
  const stage = p.trains[0]!.stages.find((s) => s.name === 'finetune')!;
  return stage.model;
}

function child(node: ModuleNode, name: string): ModuleNode {
  return node.children.find((c) => c.path === name || c.path.endsWith(`.${name}`))!;
}

function params(node: ModuleNode): number {
  return (
    node.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0) +
    node.children.reduce((n, c) => n + params(c), 0)
  );
}

describe('MED-NVC structure variants', () => {
  it('`swin` (one edit of no_pretrain) runs MED-NVC on the same Swin-B encoder as the swin_mlp row', () => {
    const swin = finetune(program(FILE, 'swin')).root;
    const enc = child(swin, 'enc');
    expect(enc.typeName).toBe('SwinEncoder');
    const swinMlpEnc = child(finetune(program(FILE, 'swin_mlp')).root, 'enc');
    expect(params(enc)).toBe(params(swinMlpEnc));
    // The fusion sits at width dims[1] = 2 * embed_dim = 256 for both encoders.
    const base = finetune(program(FILE, 'no_pretrain')).root;
    expect(child(swin, 'lab_proj').params).toEqual(child(base, 'lab_proj').params);
  });

  it('`resnet` (one edit of no_pretrain) runs MED-NVC on ResNet-50 layers, fusing at width 512', () => {
    const root = finetune(program(FILE, 'resnet')).root;
    expect(child(root, 'enc').typeName).toBe('ResNet');
    expect(child(root, 'lab_proj').params).toMatchObject({ in: 14, out: 14 * 512 });
    expect(child(root, 'head').params).toMatchObject({ in: 2048, out: 2 });
  });

  it('`fuse_after_3` moves the fusion to the third stage (width dims[2] = 512)', () => {
    const root = finetune(program(FILE, 'fuse_after_3')).root;
    expect(child(root, 'lab_proj').params).toMatchObject({ in: 14, out: 14 * 512 });
  });

  it('`nvcc diff` shows both (golden)', () => {
    const text = [
      formatProgramDiff(
        diffPrograms(program(FILE, 'no_pretrain'), program(FILE, 'swin'), {
          before: `${FILE} (variant no_pretrain)`,
          after: `${FILE} (variant swin)`,
        }),
      ),
      formatProgramDiff(
        diffPrograms(program(FILE, 'no_pretrain'), program(FILE, 'resnet'), {
          before: `${FILE} (variant no_pretrain)`,
          after: `${FILE} (variant resnet)`,
        }),
      ),
      formatProgramDiff(
        diffPrograms(program(FILE), program(FILE, 'fuse_after_3'), {
          before: FILE,
          after: `${FILE} (variant fuse_after_3)`,
        }),
      ),
    ].join('\n');
    expect(text).toBe(golden('mednvc-structure-diff.txt', text));
  });
});
