/**
 * `nvcc export RUN_DIR --format torch [--stage S] [--strip PATH] [--out FILE]`: a run's trained
 * weights as the official PyTorch ConvNeXt-V2 state dict.
 * In: a run folder made by `nvcc train` (its program.json and `stages/<stage>/weights.safetensors`).
 * Out: a safetensors file (default `RUN/export/<stage>.torch.safetensors`) in PyTorch's layouts
 * under the official names (compiler/emit/torch/export.ts); `--strip enc` moves the `enc.`
 * subtree to the root, so MED-NVC's ImagesOnly becomes the official ConvNeXtV2 key for key.
 * The official model loads it with `model.load_state_dict(safetensors.torch.load_file(FILE),
 * strict=True)`. Holds afterwards: the run folder is only read; a refused export (unknown
 * format or stage, weights that are not the model's) writes nothing and says why.
 */
import * as path from 'node:path';
import { UserError } from '../../runtime/errors.js';
import { exportTorchWeights } from '../../workflow/export.js';
import type { SetExit } from './index.js';

export async function exportCommand(
  runDir: string,
  opts: { format: string; stage?: string; strip?: string; out?: string },
  setExit: SetExit,
): Promise<void> {
  if (opts.format !== 'torch') throw new UserError(`--format must be torch, got '${opts.format}'`);
  const { out, stage, tensors } = await exportTorchWeights(runDir, opts);
  process.stdout.write(
    `wrote ${path.relative(process.cwd(), out) || out}: ${tensors} tensors of stage ${stage} in ` +
      'PyTorch layout (load with load_state_dict(safetensors.torch.load_file(FILE), strict=True))\n',
  );
  setExit(0);
}
