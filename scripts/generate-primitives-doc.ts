/**
 * Writes docs/primitives.md from the primitive records (`npm run gen:primitives-doc`).
 * In: compiler/primitives/ (through `renderPrimitivesReference`). Out: the file, rewritten.
 * Holds afterwards: test/compiler/primitives-doc.test.ts passes until a record changes again.
 */
import { writeFileSync } from 'node:fs';
import { PRIMITIVES_DOC_PATH, renderPrimitivesReference } from '../compiler/primitives/reference.js';

writeFileSync(PRIMITIVES_DOC_PATH, renderPrimitivesReference());
process.stdout.write(`wrote ${PRIMITIVES_DOC_PATH}\n`);
