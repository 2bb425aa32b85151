/**
 * Assembles runtime/kernels/simd/depthwise.wat into depthwise.wasm (committed beside it, so the
 * runtime needs no toolchain). In: the WAT text. Out: the binary, without debug names, so the
 * bytes depend only on the WAT and wabt's version. Holds afterwards: test/runtime/kernels-simd
 * checks that the committed .wasm equals what this produces.
 *
 *   npx tsx runtime/kernels/simd/build-wasm.ts      # rewrites depthwise.wasm
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';

export const WAT_PATH = fileURLToPath(new URL('./depthwise.wat', import.meta.url));
export const WASM_PATH = fileURLToPath(new URL('./depthwise.wasm', import.meta.url));

export async function assembleDepthwiseWat(): Promise<Uint8Array> {
  const toolkit = await wabt();
  const module = toolkit.parseWat('depthwise.wat', fs.readFileSync(WAT_PATH, 'utf8'), { simd: true });
  try {
    module.validate();
    return module.toBinary({ log: false, canonicalize_lebs: true, write_debug_names: false }).buffer;
  } finally {
    module.destroy();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  const bytes = await assembleDepthwiseWat();
  fs.writeFileSync(WASM_PATH, bytes);
  console.log(`wrote ${WASM_PATH} (${bytes.length} bytes)`);
}
