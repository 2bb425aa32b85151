/** Types of scripts/runtime-lib.mjs for the tests that import it. */
export declare const RUNTIME_ENTRIES: readonly string[];
export declare function buildRuntimeLib(root: string): Promise<{ dir: string; id: string; built: boolean }>;
export declare function writeRuntimePackage(root: string, outDir: string): string;
