/** The issue-14 primitives on the wasm backend (test/support/suites/primitive-ops.ts). */
import { definePrimitiveOpsSuite } from '../support/suites/primitive-ops.js';

definePrimitiveOpsSuite('wasm');
