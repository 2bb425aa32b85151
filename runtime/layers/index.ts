/** Layer classes generated code constructs; see each file's header for contracts. */
export * from './base.js';
export * from './conv.js';
export * from './linear.js';
export * from './norm.js';
export * from './drop.js';
export * from './attention.js';
export * from './container.js';
export * from './functional.js';
export * from './fcmae.js';
export * from './batchnorm.js';
export * from './pool.js';
