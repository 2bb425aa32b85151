/**
 * What `nvcc export --web` tells the page about the run, as JSON inside index.html.
 * In: written by workflow/export-web.ts from the run folder. Out: read by workflow/web/page.ts.
 * Holds: everything the page needs besides the model code and the weights file: the stage and its
 * inputs, the dataset's lab fields and image settings, the training statistics, pooling and
 * threshold, and the figures the page shows beside the form.
 */
import type { DatasetStats } from '../../runtime/data/dataset.js';
import type { ClassSpec, FieldGroupSpec, ImageSpec, Pooling } from '../../runtime/data/spec.js';

/** One evaluated split of the run as the page shows it. */
export interface PageSplitMetrics {
  readonly split: string;
  readonly patients: number;
  readonly positives: number;
  readonly auc: number | null;
  readonly aucLower: number | null;
  readonly aucUpper: number | null;
  readonly accuracy: number | null;
  readonly sensitivity: number | null;
  readonly specificity: number | null;
}

export interface WebPageData {
  /** Format of this object; the page refuses another. */
  readonly format: 1;
  readonly run: {
    readonly name: string;
    readonly folder: string;
    readonly variant: string | null;
    readonly program: string;
  };
  readonly stage: {
    readonly name: string;
    /** Key of the build's `factories` (train.ts). */
    readonly factory: string;
    readonly className: string;
    /** Stage inputs in forward order: lab group names and image input names. */
    readonly inputs: readonly string[];
    readonly imageInputs: readonly string[];
  };
  readonly dataset: {
    readonly name: string;
    readonly classes: readonly ClassSpec[];
    readonly groups: readonly FieldGroupSpec[];
    readonly images: Pick<ImageSpec, 'size' | 'channels' | 'fit' | 'normalize' | 'dicom'>;
  };
  readonly stats: DatasetStats;
  readonly pooling: Pooling;
  readonly threshold: number;
  readonly thresholdSource: string;
  readonly metrics: readonly PageSplitMetrics[];
  /** The weights file next to index.html, its size and SHA-256. */
  readonly weights: { readonly file: string; readonly bytes: number; readonly sha256: string };
  /** The diagram file next to index.html, or why there is none. */
  readonly diagram: { readonly file: string } | { readonly missing: string };
}

/** The id of the `<script type="application/json">` element holding the WebPageData. */
export const PAGE_DATA_ID = 'nvcc-run';
