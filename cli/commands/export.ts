/**
 * `nvcc export RUN_DIR --format torch [--stage S] [--strip PATH] [--out FILE]`: a run's trained
 * weights as the official PyTorch ConvNeXt-V2 state dict; `nvcc export RUN_DIR --web OUT [--stage S]
 * [--force]`: the run as a static page that scores a patient in the browser (workflow/export-web.ts).
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
  opts: { format?: string; web?: string; force?: boolean; stage?: string; strip?: string; out?: string },
  setExit: SetExit,
): Promise<void> {
  if (opts.web !== undefined) {
    if (opts.format !== undefined) throw new UserError('give either --format torch or --web OUT, not both');
    if (opts.strip !== undefined || opts.out !== undefined)
      throw new UserError('--strip and --out belong to --format torch; --web names the folder it writes');
    const { exportWebPage } = await import('../../workflow/export-web.js');
    const page = await exportWebPage(runDir, {
      out: opts.web,
      ...(opts.stage !== undefined ? { stage: opts.stage } : {}),
      ...(opts.force ? { force: true } : {}),
    });
    const total = page.files.reduce((n, f) => n + f.bytes, 0);
    const shown = path.relative(process.cwd(), page.out) || page.out;
    process.stdout.write(
      `wrote ${shown}: a page scoring patients with stage ${page.stage} (${page.files.length} files, ` +
        `${(total / 1e6).toFixed(1)} MB); serve it with any static server, e.g. ` +
        `\`python3 -m http.server -d ${shown}\`, and open http://localhost:8000/\n`,
    );
    setExit(0);
    return;
  }
  if (opts.force) throw new UserError('--force belongs to --web');
  if (opts.format === undefined) throw new UserError('say what to export: --format torch, or --web OUT');
  if (opts.format !== 'torch') throw new UserError(`--format must be torch, got '${opts.format}'`);
  const { out, stage, tensors } = await exportTorchWeights(runDir, opts);
  process.stdout.write(
    `wrote ${path.relative(process.cwd(), out) || out}: ${tensors} tensors of stage ${stage} in ` +
      'PyTorch layout (load with load_state_dict(safetensors.torch.load_file(FILE), strict=True))\n',
  );
  setExit(0);
}
