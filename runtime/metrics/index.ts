/**
 * Public surface of the evaluation metrics: binary threshold metrics, ROC/AUC (rank statistic,
 * DeLong), threshold selection, per-patient pooling, bootstrap CIs and whole-run evaluation.
 */
export * from './binary.js';
export * from './roc.js';
export * from './threshold.js';
export * from './pooling.js';
export * from './bootstrap.js';
export * from './evaluate.js';
