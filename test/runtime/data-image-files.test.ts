/**
 * Which files of an image folder are images (each case failed before its fix): a symbolic link
 * to an image inside the folder is followed (it was skipped, losing the image), also through a
 * linked sub-folder and a link loop; a link leading outside the folder or to nothing is refused
 * naming the file; a PNG, JPEG or DICOM file without an extension is recognised by its content,
 * while an extensionless file of another kind stays out; content, not the name, decides: a DICOM
 * file named by a UID (`A4_1.2.840.113619.2.55.3.320`, whose `.320` looked like an extension) was
 * skipped, and a TIFF or WebP image was left out silently (now refused by name).
 */
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { loadDataset, validateDataset } from '../../runtime/data/dataset.js';
import { listImages } from '../../runtime/data/images.js';
import { writeDicom } from '../fixtures/data/dicom-writer.js';
import { filesSpec, GOOD_CSV, grayPng, tempDir, writeSmallDataset } from '../fixtures/data/folder.js';

async function dataset(images: Record<string, number>) {
  const dir = await tempDir();
  await writeSmallDataset(dir, GOOD_CSV, images);
  return { dir, img: join(dir, 'images') };
}

describe('symbolic links in the image folder', () => {
  it('a link to an image inside the folder is followed and its pixels loaded', async () => {
    const { dir, img } = await dataset({ A1: 1, A2: 2, A3: 1 });
    // The image itself is stored under a name that is not an image name (a content store).
    await mkdir(join(img, 'store'));
    await writeFile(join(img, 'store', 'scan.bin'), await grayPng(8, 8, () => 200));
    await symlink(join('store', 'scan.bin'), join(img, 'A4_0.png'));
    expect(await validateDataset(filesSpec(dir))).toEqual([]);
    const ds = await loadDataset(filesSpec(dir));
    const a4 = ds.patients.find((p) => p.id === 'A4')!;
    expect(a4.images.map((i) => ds.images[i]!.file)).toEqual([join(img, 'A4_0.png')]);
    expect(Array.from(ds.images[a4.images[0]!]!.pixels)).toEqual(Array(64).fill(200));
  });

  it('a linked sub-folder is walked once, and a link loop ends', async () => {
    const { img } = await dataset({});
    await mkdir(join(img, 'real'));
    await writeFile(join(img, 'real', 'A4_0.png'), await grayPng(8, 8, () => 90));
    await symlink(join(img, 'real'), join(img, 'alias'));
    await symlink(img, join(img, 'real', 'loop'));
    const listed = await listImages(img, img, '*/{id}_*');
    expect(listed.refused).toEqual([]);
    // real/ and alias/ are one folder: its image is listed once, under the first name reached.
    expect(listed.refs.map((r) => r.key)).toEqual(['A4']);
    expect(listed.refs[0]!.display).toMatch(/\/(real|alias)\/A4_0\.png$/);
  });

  it('a link leading outside the folder, or to nothing, is refused naming the file', async () => {
    const { dir, img } = await dataset({ A1: 1, A2: 2, A3: 1 });
    const outside = await tempDir();
    await writeFile(join(outside, 'x.png'), await grayPng(8, 8, () => 1));
    await symlink(join(outside, 'x.png'), join(img, 'A4_0.png'));
    await symlink(join(img, 'missing.png'), join(img, 'A4_1.png'));
    const errors = await validateDataset(filesSpec(dir));
    expect(errors).toContainEqual({
      file: join(img, 'A4_0.png'),
      message:
        `a symbolic link to ${join(outside, 'x.png')}, outside the image folder: nvcc follows links only inside it ` +
        '(copy the file in, or point images at a folder that holds it)',
    });
    expect(errors).toContainEqual({
      file: join(img, 'A4_1.png'),
      message: 'a symbolic link to a file that does not exist',
    });
  });
});

describe('files without an extension', () => {
  it('PNG, JPEG and DICOM content is recognised; other content stays out', async () => {
    const { dir, img } = await dataset({ A1: 1, A2: 1 });
    await writeFile(join(img, 'A2_1'), await grayPng(8, 8, () => 30));
    await writeFile(
      join(img, 'A3_0'),
      await sharp(await grayPng(8, 8, () => 60))
        .jpeg()
        .toBuffer(),
    );
    await writeFile(
      join(img, 'A4_0'),
      writeDicom({
        rows: 8,
        columns: 8,
        pixels: Array(64).fill(100),
        bitsAllocated: 8,
        windowCenter: 128,
        windowWidth: 256,
      }),
    );
    await writeFile(join(img, 'A4_notes'), 'written by hand\n');
    await writeFile(join(img, 'README'), await readFile(join(dir, 'labs.csv')));
    const listed = await listImages(img, img, '{id}_*');
    expect(listed.refs.map((r) => r.display.slice(img.length + 1))).toEqual([
      'A1_0.png',
      'A2_0.png',
      'A2_1',
      'A3_0',
      'A4_0',
    ]);
    const ds = await loadDataset(filesSpec(dir));
    expect(ds.patients.map((p) => [p.id, p.images.length])).toEqual([
      ['A1', 1],
      ['A2', 2],
      ['A3', 1],
      ['A4', 1],
    ]);
  });
});

describe('content, not the extension, decides', () => {
  const dicom = (value: number) =>
    writeDicom({
      rows: 8,
      columns: 8,
      pixels: Array(64).fill(value),
      bitsAllocated: 8,
      windowCenter: 128,
      windowWidth: 256,
    });

  it('a DICOM file named by a UID (its last part looks like an extension) is read, not skipped', async () => {
    const { dir, img } = await dataset({ A1: 1, A2: 1, A3: 1 });
    await writeFile(join(img, 'A4_1.2.840.113619.2.55.3.320'), dicom(90));
    // And one reached through an extensionless link to a file of a content store.
    await mkdir(join(img, 'store'));
    await writeFile(join(img, 'store', 'blob'), dicom(91));
    await symlink(join('store', 'blob'), join(img, 'A4_2'));
    const listed = await listImages(img, img, '{id}_*');
    expect(listed.refs.map((r) => r.display.slice(img.length + 1))).toEqual([
      'A1_0.png',
      'A2_0.png',
      'A3_0.png',
      'A4_1.2.840.113619.2.55.3.320',
      'A4_2',
    ]);
    expect(listed.unmatched).toEqual([]);
    const ds = await loadDataset(filesSpec(dir));
    const a4 = ds.patients.find((p) => p.id === 'A4')!;
    expect(a4.images.map((k) => ds.images[k]!.pixels[0])).toEqual([90, 91]);
  });

  it('a .png holding DICOM and a .dcm holding PNG are decoded by their content', async () => {
    const { dir, img } = await dataset({ A1: 1, A2: 1 });
    await writeFile(join(img, 'A3_0.png'), dicom(70));
    await writeFile(join(img, 'A4_0.dcm'), await grayPng(8, 8, () => 40));
    const ds = await loadDataset(filesSpec(dir));
    const first = (id: string) => ds.images[ds.patients.find((p) => p.id === id)!.images[0]!]!.pixels[0];
    expect([first('A3'), first('A4')]).toEqual([70, 40]);
  });

  it('an image in a format nvcc does not read is refused naming it, with or without its extension', async () => {
    const { dir, img } = await dataset({ A1: 1, A2: 1, A3: 1, A4: 1 });
    await writeFile(
      join(img, 'A4_1.tif'),
      await sharp(await grayPng(8, 8, () => 20))
        .tiff()
        .toBuffer(),
    );
    await writeFile(
      join(img, 'A4_2'),
      await sharp(await grayPng(8, 8, () => 20))
        .webp()
        .toBuffer(),
    );
    await writeFile(join(img, 'notes.txt'), 'not an image\n');
    const errors = await validateDataset(filesSpec(dir));
    expect(errors.map((e) => [e.file.slice(img.length + 1), e.message])).toEqual([
      [
        'A4_1.tif',
        'a TIFF image, a format nvcc does not read: convert it to PNG (or JPEG, DICOM), or move it out of the ' +
          'image folder',
      ],
      [
        'A4_2',
        'a WebP image, a format nvcc does not read: convert it to PNG (or JPEG, DICOM), or move it out of the ' +
          'image folder',
      ],
    ]);
  });
});
