/** Public surface of run folders: atomic writes, run directories, the JSONL log, config, progress. */
export * from './atomic.js';
export * from './rundir.js';
export * from './jsonl.js';
export * from './config.js';
export * from './progress.js';
export * from './scalars.js';
export * from './lock.js';
export * from './recorded.js';
