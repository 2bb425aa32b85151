/**
 * The exported page's preprocessing (workflow/web/preprocess.ts) against the training data path
 * (runtime/data: the table reader, the encoder, sharp's decoding and the renderer), in Node:
 * - lab values typed as text encode to exactly the floats the dataset gives the same table cells,
 *   for every kind of field (number with log1p/standardize/minmax, binary with and without levels,
 *   category, missing values filled by median, mode, constant or with an indicator column), with
 *   the statistics fitted on the training split;
 * - what the table reader refuses, the form refuses, naming the field;
 * - an image at the declared size gives the stored pixels unchanged and the batch's normalised
 *   floats exactly;
 * - an image downsized, enlarged, or stretched one way on one axis and the other on the other, and
 *   a colour image made grey, give exactly sharp's pixels.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatasetSpec, type ImageSpec, loadDataset } from '../../runtime/data/index.js';
import { decodeImage } from '../../runtime/data/images.js';
import { DatasetTrainingData } from '../../runtime/train/dataset-adapter.js';
import { encodeLabForm, imageForModel, normaliseImage } from '../../workflow/web/preprocess.js';

const SIZE = 16;

const spec = (dir: string): DatasetSpec => ({
  name: 'Toy',
  source: { kind: 'files', table: path.join(dir, 'labs.csv'), images: path.join(dir, 'images') },
  id: 'patient_id',
  label: {
    column: 'infected',
    classes: [
      { name: 'negative', code: 0 },
      { name: 'positive', code: 1 },
    ],
  },
  images: {
    per: 'patient_id',
    pattern: '{id}_*',
    size: [SIZE, SIZE],
    channels: 1,
    fit: 'cover',
    normalize: 'dataset',
    dicom: { window: 'auto', invertMonochrome1: true },
  },
  groups: [
    {
      name: 'labs',
      fields: [
        { name: 'crp', type: { kind: 'number' }, transforms: ['log1p', 'standardize'], missing: { kind: 'median' } },
        { name: 'age', type: { kind: 'number' }, transforms: ['minmax'], missing: { kind: 'indicator' } },
        { name: 'esr', type: { kind: 'number' }, transforms: [], missing: { kind: 'constant', value: 20 } },
        {
          name: 'joint',
          type: { kind: 'binary', levels: ['hip', 'knee'] },
          transforms: [],
          missing: { kind: 'error' },
        },
        { name: 'sex', type: { kind: 'binary' }, transforms: [], missing: { kind: 'mode' } },
        {
          name: 'side',
          type: { kind: 'category', levels: ['left', 'right', 'both'] },
          transforms: [],
          missing: { kind: 'mode' },
        },
      ],
    },
  ],
  split: { by: 'patient_id', train: 0.6, val: 0.2, test: 0.2, stratified: false, seed: 5 },
  pool: 'max',
});

const TABLE = [
  'patient_id,infected,crp,age,esr,joint,sex,side',
  'P01,0,3.5,61,12,hip,1,left',
  'P02,1,120,74,,knee,yes,right',
  'P03,0,,55,30,Hip,0,both',
  'P04,1,48.25,,18.5,knee,,left',
  'P05,0,0.4,80,NA,hip,true,',
  'P06,1,2e1,67,41,KNEE,no,Right',
  'P07,0,7,49,9,hip,1,both',
  'P08,1,15,,22,knee,0,left',
  'P09,0,1.25,58,14,hip,n,right',
  'P10,1,88,71,35,knee,Y,left',
];

/** A smooth grey test picture with detail at several scales. */
function picture(width: number, height: number, channels: 1 | 3): Buffer {
  const raw = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < channels; c++)
        raw[(y * width + x) * channels + c] = Math.round(
          127.5 + 90 * Math.sin(x * 0.07 * (c + 1) + y * 0.05) + 30 * Math.cos((x * y) / 900),
        );
  return raw;
}

async function png(width: number, height: number, channels: 1 | 3): Promise<Buffer> {
  return sharp(picture(width, height, channels), { raw: { width, height, channels } })
    .png()
    .toBuffer();
}

/** The file's pixels as a browser's canvas gives them (PNG decoding is lossless): RGBA. */
async function rgbaOf(file: Buffer) {
  const { data, info } = await sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

describe('the web page preprocessing against the training data path', () => {
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(tmpdir(), 'nvcc-web-pre-'));
    fs.mkdirSync(path.join(dir, 'images'));
    fs.writeFileSync(path.join(dir, 'labs.csv'), `${TABLE.join('\n')}\n`);
    for (const [i, row] of TABLE.slice(1).entries()) {
      const id = row.split(',')[0]!;
      const raw = Buffer.from(picture(SIZE + i, SIZE + i, 1).subarray(0, SIZE * SIZE));
      const image = await sharp(raw, { raw: { width: SIZE, height: SIZE, channels: 1 } })
        .png()
        .toBuffer();
      fs.writeFileSync(path.join(dir, 'images', `${id}_0.png`), image);
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('encodes typed lab values to exactly the floats the dataset gives the same cells', async () => {
    const ds = await loadDataset(spec(dir));
    const header = TABLE[0]!.split(',');
    for (const [i, row] of TABLE.slice(1).entries()) {
      const cells = row.split(',');
      const texts = Object.fromEntries(header.map((h, j) => [h, cells[j]!]));
      const patient = ds.patients.findIndex((p) => p.id === texts.patient_id);
      const form = encodeLabForm(ds.spec, ds.stats.fields, texts);
      expect('encoded' in form, `row ${i + 2}`).toBe(true);
      if ('encoded' in form) expect(form.encoded.labs, `row ${i + 2}`).toEqual(ds.labs('labs', patient));
    }
    // The same holds with the statistics read back from JSON, as the page gets them.
    const stats = JSON.parse(JSON.stringify(ds.stats)) as typeof ds.stats;
    const texts = { crp: '', age: '', esr: '', joint: 'knee', sex: '', side: '' };
    const read = encodeLabForm(ds.spec, stats.fields, texts);
    expect('encoded' in read).toBe(true);
    expect(read).toEqual(encodeLabForm(ds.spec, ds.stats.fields, texts));
  });

  it('refuses what the lab table refuses, naming the field', async () => {
    const ds = await loadDataset(spec(dir));
    const form = encodeLabForm(ds.spec, ds.stats.fields, {
      crp: '12,5',
      age: '0x10',
      esr: '1e400',
      joint: '',
      sex: 'maybe',
      side: 'middle',
    });
    expect('problems' in form && form.problems.map((p) => `${p.field}: ${p.message}`)).toEqual([
      "crp: '12,5' is not a number",
      "age: '0x10' is not a decimal number (hexadecimal, binary and octal are not read)",
      "esr: '1e400' is not a number",
      'joint: required (the run was trained without missing values here)',
      "sex: 'maybe' is not a binary value (expected 0/1, true/false or yes/no)",
      "side: unknown category 'middle' (expected one of left, right, both)",
    ]);
    const implausible = encodeLabForm(ds.spec, ds.stats.fields, { age: '1e9', joint: 'hip' });
    expect('problems' in implausible && implausible.problems.map((p) => p.field)).toEqual(['age']);
  });

  it('passes an image at the declared size through unchanged and normalises it as the batch does', async () => {
    const ds = await loadDataset(spec(dir));
    const data = new DatasetTrainingData(ds, ['xray']);
    for (const [k, stored] of ds.images.entries()) {
      const file = fs.readFileSync(path.join(dir, 'images', path.basename(stored.file)));
      const pixels = imageForModel(await rgbaOf(file), ds.spec.images);
      expect(pixels, stored.file).toEqual(stored.pixels);
      const split = (['train', 'val', 'test'] as const).find((s) =>
        ds.samples(s).some((sample) => sample.image === k),
      )!;
      const index = ds.samples(split).findIndex((sample) => sample.image === k);
      const batch = data.load(split, [index]);
      expect(normaliseImage(pixels, ds.spec.images, ds.stats.image)).toEqual(
        new Float32Array(batch.inputs.xray!.dataSync()),
      );
      for (const t of Object.values(batch.inputs)) t.dispose();
      batch.labels?.dispose();
    }
  });

  // Sharp's pixels (runtime/data/images.ts) to the grey level: downsized, enlarged, one axis each way.
  const to = (size: [number, number], channels: 1 | 3, fit: 'fill' | 'cover') => ({ size, channels, fit });
  const cases: {
    from: [number, number];
    channels: 1 | 3;
    to: Pick<ImageSpec, 'size' | 'channels' | 'fit'>;
  }[] = [
    { from: [100, 80], channels: 1, to: to([64, 64], 1, 'fill') },
    { from: [100, 80], channels: 1, to: to([64, 64], 1, 'cover') },
    { from: [130, 64], channels: 1, to: to([64, 64], 1, 'cover') },
    { from: [65, 200], channels: 1, to: to([64, 64], 1, 'fill') },
    { from: [512, 512], channels: 1, to: to([64, 64], 1, 'cover') },
    { from: [1000, 700], channels: 1, to: to([64, 64], 1, 'fill') },
    { from: [2048, 1536], channels: 1, to: to([64, 64], 1, 'cover') },
    { from: [64, 64], channels: 3, to: to([64, 64], 1, 'fill') },
    { from: [300, 200], channels: 3, to: to([64, 64], 1, 'fill') },
    { from: [777, 555], channels: 3, to: to([48, 64], 1, 'cover') },
    { from: [300, 200], channels: 3, to: to([64, 64], 3, 'cover') },
    { from: [40, 40], channels: 1, to: to([64, 64], 1, 'fill') },
    { from: [17, 33], channels: 1, to: to([64, 64], 1, 'cover') },
    { from: [50, 90], channels: 1, to: to([64, 64], 1, 'fill') },
    { from: [100, 30], channels: 1, to: to([64, 64], 1, 'fill') },
    { from: [30, 20], channels: 3, to: to([64, 64], 3, 'cover') },
  ];
  for (const c of cases) {
    const name = `${c.from.join('x')}x${c.channels} -> ${c.to.size.join('x')}x${c.to.channels} ${c.to.fit}`;
    it(`resizes ${name} to sharp's pixels`, async () => {
      const file = await png(c.from[0], c.from[1], c.channels);
      const fileName = path.join(dir, `resize-${c.from.join('x')}-${c.channels}.png`);
      fs.writeFileSync(fileName, file);
      const imageSpec: ImageSpec = { ...spec(dir).images, ...c.to };
      const decoded = await decodeImage({ kind: 'file', path: fileName, display: fileName, key: 'x' }, imageSpec);
      const reference = decoded.frames[0]!;
      const mine = imageForModel(await rgbaOf(file), c.to);
      expect(mine).toEqual(reference);
    });
  }
});
