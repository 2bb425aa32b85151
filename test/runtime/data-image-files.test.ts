/**
 * Which files of an image folder are images (each case failed before its fix): a symbolic link
 * to an image inside the folder is followed (it was skipped, losing the image), also through a
 * linked sub-folder and a link loop; a link leading outside the folder or to nothing is refused
 * naming the file; a PNG, JPEG or DICOM file without an extension is recognised by its content,
 * while an extensionless file of another kind stays out.
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
