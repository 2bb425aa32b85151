// `nvcc diagram` and `nvcc diff` end to end, in-process: output files in each format, and bad
// input (bad flags, unknown names, a broken spec) reported in one line each, never as a stack
// trace.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';

let stderr = '';
let stdout = '';

beforeEach(() => {
  stderr = '';
  stdout = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
});
afterEach(() => vi.restoreAllMocks());

const dir = mkdtempSync(join(tmpdir(), 'nvcc-diagram-cli-'));

describe('nvcc diagram', () => {
  it('writes a PNG rendered from the SVG, at twice the SVG size', async () => {
    const out = join(dir, 'block.png');
    const code = await main([
      'diagram',
      'std/convnextv2.nvc',
      '--model',
      'convnextv2_atto',
      '--block',
      'ConvNeXtV2Block',
      '--dims',
      'H=224,W=224',
      '--out',
      out,
    ]);
    expect(stderr).toContain(`wrote ${out}`);
    expect(code).toBe(0);
    const svgCode = await main([
      'diagram',
      'std/convnextv2.nvc',
      '--model',
      'convnextv2_atto',
      '--block',
      'ConvNeXtV2Block',
      '--dims',
      'H=224,W=224',
      '--format',
      'svg',
    ]);
    expect(svgCode).toBe(0);
    const m = /viewBox="0 0 (\d+) (\d+)"/.exec(stdout)!;
    const meta = await sharp(readFileSync(out)).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBe(2 * Number(m[1]));
    expect(meta.height).toBe(2 * Number(m[2]));
    // Not blank: the figure has dark text pixels on the white page.
    const stats = await sharp(readFileSync(out)).stats();
    expect(stats.channels[0]!.min).toBeLessThan(80);
  });

  it("draws a stage's model at its data's sizes, with the symbolic shape under; --dims wins", async () => {
    // FCMAE's input is [B, H, W, C]; the demo's dataset gives 64x64 single-channel images.
    expect(
      await main(['diagram', 'examples/mednvc.nvc', '--variant', 'demo', '--stage', 'pretrain', '--format', 'mermaid']),
    ).toBe(0);
    expect(stdout).toContain('-->|"[B, 64, 64, 1]<br/>[B, H, W, 1]"|');
    expect(stdout).toContain('-->|"[B, 2, 2, 128]<br/>[B, H / 32, W / 32, 128]"|');
    stdout = '';
    expect(
      await main([
        'diagram',
        'examples/mednvc.nvc',
        '--variant',
        'demo',
        '--stage',
        'pretrain',
        '--format',
        'mermaid',
        '--dims',
        'H=128,W=128',
      ]),
    ).toBe(0);
    expect(stdout).toContain('-->|"[B, 128, 128, 1]<br/>[B, H, W, 1]"|');
  });

  it('prints DOT and Mermaid to stdout; the format follows --out', async () => {
    expect(await main(['diagram', 'examples/mednvc.nvc', '--format', 'dot', '--direction', 'LR'])).toBe(0);
    expect(stdout).toMatch(/^digraph "MEDNVC \(stage finetune\)" \{\n {2}graph \[rankdir=LR/);
    stdout = '';
    const out = join(dir, 'train.mmd');
    expect(await main(['diagram', 'examples/mednvc.nvc', '--training', '--out', out])).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^---\ntitle: "train MEDNVC_on_PJI on PJI"\n---\nflowchart TB/);
  });

  it.each([
    [
      ['diagram', 'examples/mednvc.nvc', '--format', 'eps'],
      '--format expects one of svg, png, pdf, dot, mermaid, found `eps`',
    ],
    [['diagram', 'examples/mednvc.nvc', '--direction', 'up'], '--direction expects LR or TB, found `up`'],
    [['diagram', 'examples/mednvc.nvc', '--depth', '-1'], '--depth expects a non-negative integer, found `-1`'],
    [['diagram', 'examples/mednvc.nvc', '--format', 'png'], '--format png writes binary data: give --out PATH'],
    [['diagram', 'examples/mednvc.nvc', '--dims', 'H:224'], '--dims expects NAME=INT pairs'],
    [['diagram', 'examples/mednvc.nvc', '--model', 'MEDNV'], 'no model `MEDNV`'],
    [
      ['diagram', 'examples/mednvc.nvc', '--training', '--stage', 'pretrain'],
      'choose one of --model, --stage and --training',
    ],
    [['diagram', 'std/attention.nvc', '--training'], 'declares no `train`'],
    [['diagram', 'no/such/file.nvc'], 'cannot find module'],
    [['diff', 'examples/mednvc.nvc'], 'nothing to compare'],
    [['diff', 'examples/mednvc.nvc', '--against', 'no_such_variant'], 'no_such_variant'],
  ])('%j fails with a message, not a stack trace', async (argv, message) => {
    const code = await main(argv);
    expect(code).toBe(1);
    expect(stderr).toContain(message);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stderr).not.toContain('internal error');
  });

  it('reports a broken spec as diagnostics', async () => {
    const bad = join(dir, 'bad.nvc');
    writeFileSync(bad, 'model M() {\n  l = Linear(4, 8)\n  forward(x: [B, 5]) -> [B, 8] { return l(x) }\n}\n');
    expect(await main(['diagram', bad])).toBe(1);
    expect(stderr).toMatch(/error\[NVC\d+\]/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

describe('nvcc diff', () => {
  it('prints the text diff of two variants', async () => {
    expect(await main(['diff', 'examples/mednvc.nvc', '--against', 'no_random_throw'])).toBe(0);
    expect(stdout).toContain('~ stage finetune changed');
    expect(stdout).toContain('modality_dropout: random_throw(p = 0.2, fill = -10) → random_throw(p = 0, fill = -10)');
  });

  it('draws the diff of two files as SVG with the changes highlighted', async () => {
    const out = join(dir, 'diff.svg');
    expect(
      await main([
        'diff',
        'test/diagram/fixtures/diff-before.nvc',
        'test/diagram/fixtures/diff-after.nvc',
        '--out',
        out,
      ]),
    ).toBe(0);
    const svg = readFileSync(out, 'utf8');
    expect(svg.match(/class="node node-layer diff-added"/g)).toHaveLength(1);
    expect(svg.match(/class="node node-layer diff-removed"/g)).toHaveLength(1);
    expect(svg).toContain('was 642 params (+321)');
  });

  it('draws the training when the models are equal and only the training differs (the removed stage)', async () => {
    const out = join(dir, 'no-pretrain.svg');
    expect(
      await main(['diff', 'examples/mednvc.nvc', '--against', 'no_pretrain', '--format', 'svg', '--out', out]),
    ).toBe(0);
    const svg = readFileSync(out, 'utf8');
    expect(svg).toContain('(the models are equal; the training differs)');
    expect(svg).toContain('class="node node-stage diff-removed"');
    expect(svg).toMatch(/<rect class="node-box" data-node="old_s1n1"[^>]*stroke="#c0392b"/);
  });
});
