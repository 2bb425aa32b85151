#!/usr/bin/env node
// Entry point for `nvcc` / `nvc`: runs the TypeScript CLI in-process through tsx's loader,
// so a clone works without a separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../compiler/cli.ts');
process.exitCode = await main(process.argv.slice(2));
