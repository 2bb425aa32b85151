/** Functional ops generated code calls; see each file's header for contracts. */
export * from './activation.js';
export * from './norm.js';
export * from './linear.js';
export * from './shape.js';
export * from './mask.js';
export * from './attention.js';
export * from './pool.js';
export * from './dropout.js';
export * from './loss.js';
export * from './elementwise.js';
export * from './window.js';
export * from './batchnorm.js';
export * from './resample.js';
