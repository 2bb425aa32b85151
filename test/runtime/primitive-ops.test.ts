/** The issue-14 primitives on the cpu backend (test/support/suites/primitive-ops.ts). */
import { definePrimitiveOpsSuite } from '../support/suites/primitive-ops.js';

definePrimitiveOpsSuite('cpu');
