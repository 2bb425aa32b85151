/**
 * `nvcc diagram FILE [--variant V] [--model M | --stage S | --training] [--block B] [--depth N]
 *  [--direction LR|TB] [--theme paper|dark] [--dims H=224,W=224] [--style full|paper] [--aspect R]
 *  --format svg|png|pdf|dot|mermaid [--out PATH]`.
 * In: a .nvc path and view flags. Out: the figure on stdout (text formats and SVG) or in
 * --out (PNG needs --out). Exit 1 on a bad spec (diagnostics as `nvcc check` prints them) or
 * bad flags, with a message that names what exists.
 */
import { extname } from 'node:path';
import { renderDiagnostics, shouldUseColor } from '../../dsl/diagnostics/render.js';
import { UserError } from '../../runtime/errors.js';
import { parseDepth, parseDims } from '../flags.js';
import { writeOutput } from '../output.js';
import type { SetExit } from './index.js';
import {
  type DiagramFormat,
  type DiagramStyle,
  drawnNodesRefusal,
  FORMATS,
  renderDiagram,
} from '../../compiler/diagram/render.js';
import { selectDiagram } from '../../compiler/diagram/select.js';
import { compileProgramSync } from '../../compiler/pipeline.js';

export interface ViewFlags {
  direction: string;
  theme: string;
  format?: string;
  out?: string;
  style?: string;
  aspect?: string;
}

export function parseView(opts: ViewFlags): {
  format: DiagramFormat;
  direction: 'LR' | 'TB';
  theme: 'paper' | 'dark';
  style: DiagramStyle;
  aspectRatio?: number;
} {
  const fromExt = opts.out
    ? (
        { '.svg': 'svg', '.png': 'png', '.pdf': 'pdf', '.dot': 'dot', '.gv': 'dot', '.mmd': 'mermaid' } as Record<
          string,
          DiagramFormat
        >
      )[extname(opts.out).toLowerCase()]
    : undefined;
  const format = (opts.format ?? fromExt ?? 'svg') as DiagramFormat;
  if (!FORMATS.includes(format))
    throw new UserError(`--format expects one of ${FORMATS.join(', ')}, found \`${opts.format}\``);
  const direction = opts.direction.toUpperCase();
  if (direction !== 'LR' && direction !== 'TB')
    throw new UserError(`--direction expects LR or TB, found \`${opts.direction}\``);
  if (opts.theme !== 'paper' && opts.theme !== 'dark')
    throw new UserError(`--theme expects paper or dark, found \`${opts.theme}\``);
  if ((format === 'png' || format === 'pdf') && !opts.out)
    throw new UserError(`--format ${format} writes binary data: give --out PATH`);
  const style = opts.style ?? 'full';
  if (style !== 'full' && style !== 'paper') throw new UserError(`--style expects full or paper, found \`${style}\``);
  let aspectRatio: number | undefined;
  if (opts.aspect !== undefined) {
    const [w, h] = opts.aspect.includes(':') ? opts.aspect.split(':').map(Number) : [Number(opts.aspect), 1];
    aspectRatio = (w ?? Number.NaN) / (h ?? Number.NaN);
    if (!Number.isFinite(aspectRatio) || aspectRatio < 0.1 || aspectRatio > 10)
      throw new UserError(
        `--aspect expects a width/height ratio from 0.1 to 10 (1.4 or 4:3), found \`${opts.aspect}\``,
      );
  }
  return { format, direction, theme: opts.theme, style, ...(aspectRatio !== undefined ? { aspectRatio } : {}) };
}

export async function diagramCommand(
  file: string,
  opts: {
    variant?: string;
    model?: string;
    block?: string;
    stage?: string;
    training?: boolean;
    depth: string;
    direction: string;
    theme: string;
    dims?: string;
    style?: string;
    aspect?: string;
    format?: string;
    out?: string;
  },
  setExit: SetExit,
): Promise<void> {
  const view = parseView(opts);
  const depth = parseDepth(opts.depth);
  const dims = parseDims(opts.dims);
  const r = compileProgramSync(file, { ...(opts.variant ? { variant: opts.variant } : {}) });
  if (!r.program) {
    process.stderr.write(renderDiagnostics(r.diagnostics, (p) => r.files.get(p), { color: shouldUseColor() }) + '\n');
    setExit(1);
    return;
  }
  const chosen = selectDiagram(r.program, {
    depth,
    dims,
    ...(opts.model !== undefined ? { model: opts.model } : {}),
    ...(opts.block !== undefined ? { block: opts.block } : {}),
    ...(opts.stage !== undefined ? { stage: opts.stage } : {}),
    ...(opts.training ? { training: true } : {}),
  });
  if ('error' in chosen) throw new UserError(chosen.error);
  const tooLarge = drawnNodesRefusal(chosen.graph, view.format);
  if (tooLarge) throw new UserError(tooLarge);
  writeOutput(await renderDiagram(chosen.graph, view), opts.out);
}
