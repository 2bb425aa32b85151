/**
 * NVC4030 (compiler/mask-tokens.ts): mask tokens written into the removed cells must not go
 * through layers that run masked. The std FCMAE decoder made exactly this mistake before its
 * blocks were declared `unmasked` (issue 20): the check finds it in a copy of the std file
 * without the keyword, and stays quiet on the std file, on `unmasked` blocks and on plain
 * zeroing of the removed cells (no token).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { freshDir } from '../builder/helpers.js';

const codes = (file: string, text?: string) =>
  compileProgramSync(file, text === undefined ? {} : { text }).diagnostics.map((d) => ({
    code: d.code,
    severity: d.severity,
    line: d.span.start,
    message: d.message,
    labels: d.labels.map((l) => l.message),
  }));

describe('mask tokens through masked layers (NVC4030)', () => {
  it('the std FCMAE has none', () => {
    expect(codes('test/fixtures/emit/fcmae-official.nvc')).toEqual([]);
  });

  it('finds the old std decoder mistake: a decoder block that is not `unmasked`', () => {
    const dir = freshDir();
    const std = fs.readFileSync('std/convnextv2.nvc', 'utf8');
    const old = std.replace('block FCMAEDecoderBlock(dim: int) unmasked {', 'block FCMAEDecoderBlock(dim: int) {');
    expect(old).not.toBe(std);
    fs.writeFileSync(path.join(dir, 'convnextv2.nvc'), old);
    const entry = path.join(dir, 'fcmae.nvc');
    fs.writeFileSync(
      entry,
      fs.readFileSync('test/fixtures/emit/fcmae-official.nvc', 'utf8').replace('"std/convnextv2"', '"./convnextv2"'),
    );
    const found = codes(entry);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      code: 'NVC4030',
      severity: 'warning',
      message: '`decoder` runs masked, but its input holds mask tokens at the removed positions',
      labels: ['mask tokens are written here', '`visible` reads the mask here'],
    });
  });

  const program = (modifier: string, fill: string) => `
block Stats(dim: int) ${modifier}{
  forward(x: [B, H, W, dim]) -> [B, H, W, dim] {
    let xv = visible(x)
    return x * sqrt(mean(xv * xv, axes = [1, 2], keep = true))
  }
}
model Decoder(dim: int = 8) {
  weight mask_token: [dim] = zeros
  stats = Stats(dim)
  conv = DepthwiseConv2d(dim, kernel = 3) sparse
  forward(x: [B, H, W, dim]) -> [B, H, W, dim] {
    let m = patch_mask(x)
    return stats(${fill})
  }
}
`;

  it('reports a token fill, not an `unmasked` block or plain zeroing', () => {
    const file = path.join(freshDir(), 'tokens.nvc');
    fs.writeFileSync(file, '');
    const token = 'x * (1.0 - m) + mask_token * m';
    expect(codes(file, program('', token)).map((d) => d.code)).toEqual(['NVC4030']);
    expect(codes(file, program('unmasked ', token))).toEqual([]);
    expect(codes(file, program('', 'x * (1.0 - m)'))).toEqual([]);
  });

  it('reports a sparse layer and visible() applied to the tokens directly', () => {
    const file = path.join(freshDir(), 'tokens.nvc');
    fs.writeFileSync(file, '');
    const viaConv = program('unmasked ', 'conv(x * (1.0 - m) + mask_token * m)');
    expect(codes(file, viaConv).map((d) => [d.code, d.labels[1]])).toEqual([
      ['NVC4030', 'the `sparse` DepthwiseConv2d runs masked'],
    ]);
    const viaVisible = program('unmasked ', 'visible(x * (1.0 - m) + mask_token * m)');
    expect(codes(file, viaVisible).map((d) => d.code)).toEqual(['NVC4030']);
  });
});
