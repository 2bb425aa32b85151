/**
 * The data runtime's public surface: specs, the synthetic cohort, validation, loading,
 * splitting and batching. In: DatasetSpec. Out: Dataset and BatchStream (see dataset.ts).
 */
export * from './spec.js';
export * from './errors.js';
export {
  validateDataset,
  checkDataset,
  loadDataset,
  Dataset,
  BatchStream,
  IMAGENET_MEAN,
  IMAGENET_STD,
  IMAGENET_GRAY,
} from './dataset.js';
export type {
  LoadOptions,
  DatasetStats,
  PatientRecord,
  StoredImage,
  Sample,
  Batch,
  BatchOptions,
  BatchPosition,
} from './dataset.js';
export { splitPatients, type SplitName, type Splits } from './split.js';
export { drawAugment, renderSample, type AugmentDraw } from './augment.js';
export { decodeDicom, DicomError } from './dicom.js';
export type { FieldStats, OneFieldStats } from './encode.js';
export {
  generatePjiCohort,
  writePjiCohort,
  pjiDatasetSpec,
  samplePjiPatients,
  bayesScores,
  bayesAuc,
  rocAuc,
  PJI_LAB_COLUMNS,
  PJI_MODEL,
  type PjiCohort,
  type PjiPatient,
} from './synthetic-pji.js';
