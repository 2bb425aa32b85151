/**
 * PyTorch fixture comparisons on the pure-JS cpu backend
 * (cases in test/fixtures/generators/torch-fixture-cases.ts).
 */
import { defineTorchFixtureTests } from '../fixtures/generators/torch-fixture-cases.js';

defineTorchFixtureTests('cpu');
