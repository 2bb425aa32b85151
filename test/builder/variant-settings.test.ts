/**
 * A variant that sets a named argument of a settings constructor written with a positional one
 * (`PJI.images.dir = "data/images"` on `folder("images", ...)`): the variant's value reaches the
 * runtime spec. Before the fix the positional folder won, and a run with a ./images folder present
 * trained on the wrong images without a word.
 */
import { describe, expect, it } from 'vitest';
import { lowerDataset } from '../../compiler/builder/lower.js';
import { compileProgramSync } from '../../compiler/pipeline.js';

const TINY = 'test/cli/fixtures/tiny.nvc';

function datasetSource(variant?: string) {
  const r = compileProgramSync(TINY, variant !== undefined ? { variant } : {});
  expect(r.program, 'the fixture compiles').toBeDefined();
  return lowerDataset(r.program!.datasets[0]!).source;
}

describe('variant settings on positional arguments', () => {
  it('uses the images folder a variant sets over the positional one', () => {
    expect(datasetSource('from_files')).toEqual({ kind: 'files', table: 'data/labs.csv', images: 'data/images' });
  });

  it('keeps the positional folder when nothing overrides it', () => {
    const r = compileProgramSync(TINY, {
      variant: 'from_files',
    });
    const d = r.program!.datasets[0]!;
    const settings = d.settings as Record<string, unknown>;
    const images = { ...(settings.images as Record<string, unknown>) };
    delete images.dir;
    expect(lowerDataset({ ...d, settings: { ...settings, images } }).source).toMatchObject({ images: 'images' });
  });
});
