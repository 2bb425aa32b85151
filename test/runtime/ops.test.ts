import { defineOpsSuite } from '../support/suites/ops.js';

defineOpsSuite('cpu');
