import { defineLayersSuite } from '../support/suites/layers.js';

defineLayersSuite('wasm');
