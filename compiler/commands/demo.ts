/**
 * `nvcc demo`: the README's main job (build and train the MED-NVC demo profile on the
 * built-in synthetic cohort). Until training lands it says so plainly and exits non-zero.
 */
import type { RegisterCommand } from './index.js';

export const register: RegisterCommand = (program, setExit) => {
  program
    .command('demo')
    .description('build and train the MED-NVC demo profile on the built-in synthetic cohort')
    .action(() => {
      process.stderr.write('nvcc demo: not yet available: training lands with issue 5 (nvcc train).\n');
      setExit(3);
    });
};
