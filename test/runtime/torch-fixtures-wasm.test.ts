/** PyTorch fixture comparisons on the wasm backend (cases in test/fixtures/generators/torch-fixture-cases.ts). */
import { defineTorchFixtureTests } from '../fixtures/generators/torch-fixture-cases.js';

defineTorchFixtureTests('wasm');
