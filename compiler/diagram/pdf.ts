/**
 * PDF output of a diagram, for papers: the SVG printed by headless Chromium, so the PDF keeps
 * vector shapes and the embedded font's text.
 * In: a finished SVG document (svg.ts: width and height in px on its root). Out: the bytes of a
 * one-page PDF whose page is the figure's size (1 px = 0.75 pt) with no margins. Holds
 * afterwards: the temporary folder (page, browser profile) is removed; a missing browser is a
 * UserError naming where it was looked for and the variable that points at another one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserError } from '../../runtime/errors.js';

const BROWSERS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

function browser(): string {
  const chosen = process.env['NVCC_CHROMIUM'];
  if (chosen) {
    if (!existsSync(chosen)) throw new UserError(`NVCC_CHROMIUM=${chosen}: no such file`);
    return chosen;
  }
  const found = BROWSERS.find((b) => existsSync(b));
  if (!found)
    throw new UserError(
      `--format pdf prints the SVG with headless Chromium, which was not found (looked for ` +
        `${BROWSERS.join(', ')}); install it or set NVCC_CHROMIUM, or write --format svg`,
    );
  return found;
}

export function svgToPdf(svg: string): Buffer {
  const size = /<svg[^>]*\swidth="(\d+(?:\.\d+)?)"[^>]*\sheight="(\d+(?:\.\d+)?)"/.exec(svg);
  if (!size) throw new Error('svgToPdf: the SVG root has no width and height');
  const [width, height] = [Number(size[1]), Number(size[2])];
  const dir = mkdtempSync(join(tmpdir(), 'nvcc-pdf-'));
  try {
    const page = join(dir, 'figure.html');
    const out = join(dir, 'figure.pdf');
    writeFileSync(
      page,
      `<!DOCTYPE html><html><head><meta charset="utf-8"><style>@page { size: ${width}px ${height}px; margin: 0 } ` +
        `html, body { margin: 0; padding: 0 } svg { display: block }</style></head><body>${svg}</body></html>`,
    );
    const run = spawnSync(
      browser(),
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-pdf-header-footer',
        `--user-data-dir=${join(dir, 'profile')}`,
        `--print-to-pdf=${out}`,
        pathToFileURL(page).href,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    if (!existsSync(out))
      throw new UserError(
        `headless Chromium wrote no PDF (exit ${run.status ?? run.signal}): ` +
          `${(run.stderr ?? '').trim().split('\n').slice(-1)[0] ?? ''}`,
      );
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
