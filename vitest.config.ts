import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // `*.slow.test.ts` run whole trainings (the torch demo, minutes on 2 cores); `npm test` stays
    // under 10 minutes without them and .ci/run runs them as a step of their own (NVCC_SLOW_TESTS=1).
    exclude:
      process.env.NVCC_SLOW_TESTS === '1' ? ['**/node_modules/**'] : ['**/node_modules/**', 'test/**/*.slow.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Fresh process per file: tfjs keeps one process-global backend (docs/testing.md).
    pool: 'forks',
    // vitest's default is cores - 1, i.e. a single worker on CI's 2 cores; two workers ran the
    // whole suite in 6m39 instead of 9m04 on the loaded 2-core machine, same CPU time.
    maxWorkers: availableParallelism(),
    // Test files already run one per core: a training inside a test takes one thread unless the
    // test asks for more (test/runtime/train-threads.test.ts); `nvcc train` defaults to every core.
    env: { NVCC_THREADS: '1' },
    reporters: ['default'],
  },
});
