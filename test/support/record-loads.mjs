// `node --import ./test/support/record-loads.mjs ...`: appends the URL of every module the
// process resolves (ES imports, dynamic imports, CommonJS packages imported from ES modules) to
// the file named by NVCC_LOAD_LOG, one per line. Tests use it to see what a command loaded.
import { register } from 'node:module';

if (process.env.NVCC_LOAD_LOG) register('./record-loads-hooks.mjs', import.meta.url, { data: { log: process.env.NVCC_LOAD_LOG } });
