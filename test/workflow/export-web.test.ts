/**
 * `nvcc export RUN --web OUT` end to end: a tiny two-modality run (test/cli/fixtures/tiny.nvc,
 * 16x16 X-rays and the 14 labs of the synthetic cohort, trained here on wasm) exported as a page,
 * served from a local static server and driven in headless Chromium through the page's own
 * form: lab values typed or chosen per field, X-rays given to its file input, the backend chosen
 * in its list, the Predict button. For three new patients (`nvcc synth`), with their X-rays as
 * written (16x16 grey PNG) and again as colour PNGs, grey JPEGs and DICOM files (one a 3-frame
 * MR) of other sizes that both sides resize, the probability the page shows equals `nvcc predict
 * --backend wasm`'s within 1e-5 on wasm, and on webgl, which this Chromium offers through
 * SwiftShader (the test fails rather than passes quietly if it does not). Every request the page
 * makes is for a file of its own folder. The command's refusals: an unfinished run, a non-empty
 * OUT without --force, an OUT it cannot create (named with the OS's reason), a bad lab value
 * (named by the page), a compressed DICOM.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';

const FIXTURE = path.resolve('test/cli/fixtures/tiny.nvc');
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain',
};

let out = '';
let err = '';
async function nvcc(...args: string[]): Promise<number> {
  out = '';
  err = '';
  return main(args);
}

/** A static server of one folder (what `python3 -m http.server -d OUT` does), on a free port. */
function serve(root: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file = path.join(root, pathname === '/' ? 'index.html' : pathname);
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream' });
    res.end(fs.readFileSync(file));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        origin: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    }),
  );
}

/** The rows of a lab table written by `nvcc synth` (no quoted cells in it). */
function readTable(file: string): Record<string, string>[] {
  const [header, ...rows] = fs.readFileSync(file, 'utf8').trim().split('\n');
  const names = header!.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((cell, i) => [names[i]!, cell])));
}

/** `patient id -> probability` of a predictions.csv. */
function readPredictions(file: string): Map<string, number> {
  const [, ...rows] = fs.readFileSync(file, 'utf8').trim().split('\n');
  return new Map(rows.map((r) => r.split(',')).map(([id, , p]) => [id!, Number(p)]));
}

async function settled(page: Page, states: readonly string[]): Promise<string> {
  await page.waitForFunction(
    (wanted) => wanted.includes(document.getElementById('status')?.dataset.state ?? ''),
    states,
    { timeout: 120_000 },
  );
  return (await page.locator('#status').getAttribute('data-state')) ?? '';
}

/** Types (or picks) each lab value into its field of the form, gives the images and presses Predict. */
async function score(page: Page, labs: Record<string, string>, images: readonly string[]): Promise<number> {
  for (const [field, value] of Object.entries(labs)) {
    const control = page.locator(`#field-${field}`);
    if ((await control.evaluate((e) => e.tagName)) === 'SELECT') await control.selectOption(value);
    else await control.fill(value);
  }
  await page.setInputFiles('#images', [...images]);
  await page.click('#predict');
  const state = await settled(page, ['done', 'error']);
  expect(state, (await page.locator('#status').textContent()) ?? '').toBe('done');
  return Number(await page.locator('#probability').getAttribute('data-probability'));
}

async function useBackend(page: Page, backend: string): Promise<void> {
  await page.selectOption('#backend', backend);
  expect(await settled(page, ['ready', 'error'])).toBe('ready');
  expect(await page.evaluate(() => window.nvccPage?.backend)).toBe(backend);
}

describe('nvcc export --web', () => {
  let dir: string;
  let program: string;
  let run: string;
  let data: string;
  let site: string;
  let predictions: Map<string, number>;
  /** The same patients with their X-rays in other sizes and formats, and nvcc predict's probabilities. */
  let resizedData: string;
  let resizedPredictions: Map<string, number>;

  beforeEach(() => {
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(tmpdir(), 'nvcc-web-'));
    // A uniquely named copy, so its build folder (build/<stem>) belongs to this test run alone.
    program = path.join(dir, `tiny-web-${process.pid}.nvc`);
    // Lion at 3e-2 instead of the fixture's 1e-3: two epochs then move the weights far enough from
    // their start that patients' probabilities differ in the second decimal, so agreeing to 1e-5
    // says something.
    fs.writeFileSync(program, fs.readFileSync(FIXTURE, 'utf8').replace('lion(lr = 1e-3)', 'lion(lr = 3e-2)'));
    run = path.join(dir, 'run');
    data = path.join(dir, 'new');
    site = path.join(dir, 'site');
    resizedData = path.join(dir, 'resized');
    const quietly = <T>(body: () => Promise<T>) => {
      const restore = [
        vi.spyOn(process.stdout, 'write').mockImplementation(() => true),
        vi.spyOn(process.stderr, 'write').mockImplementation(() => true),
      ];
      return body().finally(() => restore.forEach((r) => r.mockRestore()));
    };
    await quietly(async () => {
      expect(await nvcc('train', program, '--backend', 'wasm', '--out', run, '--quiet')).toBe(0);
      expect(await nvcc('synth', 'pji', '--patients', '3', '--out', data, '--seed', '11', '--size', '16')).toBe(0);
      const csv = path.join(dir, 'predictions.csv');
      const args = ['--table', path.join(data, 'labs.csv'), '--images', path.join(data, 'images'), '--out', csv];
      expect(await nvcc('predict', run, ...args, '--backend', 'wasm')).toBe(0);
      predictions = readPredictions(csv);
      // Colour PNGs of other sizes (40x52 downsized, 12x20 enlarged to 16x16, cover) and grey JPEGs at
      // 24x24 (below twice the size, where sharp would decode a JPEG at a reduced scale).
      fs.mkdirSync(path.join(resizedData, 'images'), { recursive: true });
      fs.copyFileSync(path.join(data, 'labs.csv'), path.join(resizedData, 'labs.csv'));
      for (const file of fs.readdirSync(path.join(data, 'images'))) {
        const image = sharp(path.join(data, 'images', file));
        const to = path.join(resizedData, 'images', file);
        if (file.startsWith('P0001_')) await image.resize(40, 52, { kernel: 'cubic' }).toColourspace('srgb').toFile(to);
        else if (file.startsWith('P0002_'))
          await image
            .resize(24, 24, { kernel: 'cubic' })
            .jpeg({ quality: 90 })
            .toFile(to.replace(/\.png$/, '.jpg'));
        else await image.resize(12, 20).toColourspace('srgb').toFile(to);
      }
      // DICOM beside them: a 128x128 8-bit file for P0001, a 3-frame 16-bit MR for P0003 (three images).
      fs.copyFileSync(
        path.resolve('test/fixtures/dicom/gray8_128.dcm'),
        path.join(resizedData, 'images', 'P0001_9.dcm'),
      );
      const mr = path.resolve('test/fixtures/dicom/MR_small_3frames.dcm');
      fs.copyFileSync(mr, path.join(resizedData, 'images', 'P0003_9.dcm'));
      const resizedCsv = path.join(dir, 'resized-predictions.csv');
      const resizedArgs = ['--table', path.join(resizedData, 'labs.csv'), '--images', path.join(resizedData, 'images')];
      expect(await nvcc('predict', run, ...resizedArgs, '--out', resizedCsv, '--backend', 'wasm')).toBe(0);
      resizedPredictions = readPredictions(resizedCsv);
    });
    const all = [...predictions.values(), ...resizedPredictions.values()];
    expect(Math.max(...all) - Math.min(...all), `nvcc predict's probabilities: ${all.join(', ')}`).toBeGreaterThan(
      0.01,
    );
  }, 600_000);

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    for (const b of fs.readdirSync('build').filter((f) => f.startsWith(`tiny-web-${process.pid}`)))
      fs.rmSync(path.join('build', b), { recursive: true, force: true });
  });

  it('writes a page giving nvcc predict\u2019s probabilities on wasm and webgl from its own folder', async () => {
    expect(await nvcc('export', run, '--web', site)).toBe(0);
    expect(out).toMatch(/^wrote .*: a page scoring patients with stage fit \(8 files, [\d.]+ MB\)/);
    expect(fs.readdirSync(site).sort()).toEqual(
      [
        'app.js',
        'app.js.LEGAL.txt',
        'diagram.svg',
        'index.html',
        'tfjs-backend-wasm-simd.wasm',
        'tfjs-backend-wasm-threaded-simd.wasm',
        'tfjs-backend-wasm.wasm',
        'weights.safetensors',
      ].sort(),
    );
    // The weights nvcc predict loads, byte for byte.
    expect(fs.readFileSync(path.join(site, 'weights.safetensors'))).toEqual(
      fs.readFileSync(path.join(run, 'stages', 'fit', 'weights.safetensors')),
    );

    const server = await serve(site);
    let browser: Browser | undefined;
    try {
      // SwiftShader gives headless Chromium a WebGL without a GPU.
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox', '--no-first-run', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
      });
      const page = await browser.newPage();
      const requested: string[] = [];
      page.on('request', (r) => requested.push(r.url()));
      const failures: string[] = [];
      page.on('pageerror', (e) => failures.push(e.message));
      await page.goto(`${server.origin}/`);
      expect(await settled(page, ['ready', 'error'])).toBe('ready');
      const available = await page.evaluate(() => window.nvccPage?.available ?? []);
      expect(available, 'the backends this Chromium initialised').toEqual(['wasm', 'webgl', 'cpu']);

      const patients = readTable(path.join(data, 'labs.csv'));
      const labFields = Object.keys(patients[0]!).filter((k) => k !== 'patient_id' && k !== 'infected');
      expect(labFields).toHaveLength(14);
      for (const backend of ['wasm', 'webgl']) {
        await useBackend(page, backend);
        for (const [folder, expected] of [
          [data, predictions],
          [resizedData, resizedPredictions],
        ] as const) {
          const images = fs.readdirSync(path.join(folder, 'images')).sort();
          for (const patient of patients) {
            const id = patient.patient_id!;
            const own = images.filter((f) => f.startsWith(`${id}_`)).map((f) => path.join(folder, 'images', f));
            const labs = Object.fromEntries(labFields.map((f) => [f, patient[f]!]));
            const p = await score(page, labs, own);
            const shown = `${id} (${path.basename(own[0]!)}) on ${backend}: ${p} vs ${expected.get(id)}`;
            expect(Math.abs(p - expected.get(id)!), shown).toBeLessThan(1e-5);
          }
        }
      }

      // A value the lab table would refuse is refused by the page, naming the field.
      await useBackend(page, 'wasm');
      await page.locator('#field-crp').fill('12,5');
      await page.click('#predict');
      expect(await settled(page, ['done', 'error'])).toBe('error');
      expect(await page.locator('#status').textContent()).toContain("labs.crp: '12,5' is not a number");

      // Compressed DICOM needs codecs the page does not carry: refused with what to do.
      await page.locator('#field-crp').fill('12.5');
      await page.setInputFiles('#images', [path.resolve('test/fixtures/dicom/gray8_128_jpeg_baseline.dcm')]);
      await page.click('#predict');
      expect(await settled(page, ['done', 'error'])).toBe('error');
      expect(await page.locator('#status').textContent()).toContain(
        'compressed DICOM pixel data is not decoded by this page: convert the file to PNG',
      );

      // Opened as a file, the page cannot load its script or weights and says to serve the folder.
      const direct = await browser.newPage();
      const directRequests: string[] = [];
      direct.on('request', (r) => directRequests.push(r.url()));
      await direct.goto(pathToFileURL(path.join(site, 'index.html')).href);
      expect(await settled(direct, ['error'])).toBe('error');
      expect(await direct.locator('#status').textContent()).toContain('Serve its folder with any static server');
      const folder = `${pathToFileURL(site).href}/`;
      expect(directRequests.filter((u) => !u.startsWith(folder))).toEqual([]);

      expect(failures).toEqual([]);
      const outside = requested.filter((u) => !u.startsWith(`${server.origin}/`));
      expect(outside, 'requests outside the page folder').toEqual([]);
      const own = new Set(requested.map((u) => new URL(u).pathname));
      for (const file of ['/', '/app.js', '/weights.safetensors', '/diagram.svg', '/tfjs-backend-wasm-simd.wasm'])
        expect(own.has(file), file).toBe(true);
    } finally {
      await browser?.close();
      await server.close();
    }
  }, 600_000);

  it('refuses a non-empty OUT without --force, replaces it with --force, names an OUT it cannot make', async () => {
    const target = path.join(dir, 'busy');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'notes.txt'), 'mine\n');
    expect(await nvcc('export', run, '--web', target)).not.toBe(0);
    expect(err).toContain(`${target} is not empty; name an empty or new folder, or pass --force`);
    expect(fs.readdirSync(target)).toEqual(['notes.txt']);

    expect(await nvcc('export', run, '--web', target, '--force')).toBe(0);
    expect(fs.readdirSync(target)).toContain('index.html');
    expect(fs.readdirSync(target)).not.toContain('notes.txt');
    // No staging folder is left beside it.
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);

    const blocked = path.join(dir, 'a-file');
    fs.writeFileSync(blocked, '');
    expect(await nvcc('export', run, '--web', path.join(blocked, 'page'))).not.toBe(0);
    expect(err).toContain(blocked);
    expect(err).toMatch(/not a folder|ENOTDIR/);
    expect(err).not.toMatch(/internal error|\n\s+at /);
  }, 300_000);

  it('refuses an unfinished run, a folder that is no run, an unknown stage and --format with --web', async () => {
    const unfinished = path.join(dir, 'unfinished');
    fs.cpSync(run, unfinished, { recursive: true });
    fs.rmSync(path.join(unfinished, 'metrics.json'));
    const target = path.join(dir, 'never');
    expect(await nvcc('export', unfinished, '--web', target)).not.toBe(0);
    expect(err).toContain(`${unfinished} is not a finished run: it has no metrics.json`);
    expect(err).toContain(`nvcc train --resume ${unfinished}`);
    expect(fs.existsSync(target)).toBe(false);

    expect(await nvcc('export', data, '--web', target)).not.toBe(0);
    expect(err).toContain(`${data} is not a run folder made by \`nvcc train\``);
    expect(fs.existsSync(target)).toBe(false);

    expect(await nvcc('export', run, '--web', target, '--stage', 'nope')).not.toBe(0);
    expect(err).toContain("the run has no stage 'nope' (stages: fit)");
    expect(await nvcc('export', run, '--web', target, '--format', 'torch')).not.toBe(0);
    expect(err).toContain('give either --format torch or --web OUT, not both');
    expect(fs.existsSync(target)).toBe(false);
  });
});
