// Types of scripts/dist.mjs for the TypeScript that uses it (tests, bench).
export declare const SOURCE_DIRS: readonly string[];
export declare const EXTRA_INPUTS: readonly string[];
export declare function bundleInputs(root: string): string[];
export declare function contentId(root: string, files: readonly string[]): Promise<string>;
export interface CurrentBundle {
  /** Content hash of the bundle's inputs. */
  readonly id: string;
  /** Absolute path of dist/<id>. */
  readonly dir: string;
  readonly files: readonly string[];
  /** dist/<id>/cli.js exists. */
  readonly ready: boolean;
}
export declare function currentBundle(root: string, options?: { write?: boolean }): Promise<CurrentBundle>;
