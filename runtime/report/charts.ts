/**
 * Report charts, rendered headless to SVG.
 * In: plain data series (training steps, epoch metrics, ROC points, a confusion matrix).
 * Out: SVG strings drawn by Vega-Lite/Vega with the `none` renderer (no canvas, no browser).
 * Holds afterwards: each SVG is self-contained markup ready to inline in HTML; namespace
 * declarations are dropped (HTML parses inline SVG without them) so a report holds no URL.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

const FONT = 'Helvetica, Arial, sans-serif';

/** Every y axis takes the same width, so stacked charts put the same epoch at the same pixel. */
export const Y_AXIS_EXTENT = 64;

const BASE_CONFIG = {
  font: FONT,
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  axisY: { minExtent: Y_AXIS_EXTENT, maxExtent: Y_AXIS_EXTENT },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 0 },
  title: { fontSize: 13, anchor: 'start' as const },
};

/**
 * Compiles a Vega-Lite spec and renders it to an SVG string. `idPrefix` makes element ids (clip
 * paths) unique when several charts are inlined in one page.
 */
export async function renderSvg(spec: TopLevelSpec, idPrefix?: string): Promise<string> {
  const vgSpec = compile({ ...spec, config: { ...BASE_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec).spec;
  const view = new View(parse(vgSpec), { renderer: 'none' });
  try {
    let svg = (await view.toSVG()).replace(/\s+xmlns(:xlink)?="[^"]*"/g, '');
    if (idPrefix) {
      svg = svg
        .replace(/\bid="([^"]+)"/g, `id="${idPrefix}-$1"`)
        .replace(/url\(#([^)]+)\)/g, `url(#${idPrefix}-$1)`)
        .replace(/href="#([^"]+)"/g, `href="#${idPrefix}-$1"`);
    }
    return svg;
  } finally {
    view.finalize();
  }
}

export interface SeriesPoint {
  readonly x: number;
  readonly y: number;
  readonly series: string;
}

export interface LineChartOptions {
  readonly title: string;
  readonly xTitle: string;
  readonly yTitle: string;
  readonly width?: number;
  readonly height?: number;
  readonly logY?: boolean;
  /** Series drawn as points on top of lines (e.g. epoch means over step losses). */
  readonly pointSeries?: readonly string[];
  readonly yDomain?: readonly [number, number];
}

/** Lines (and optional point series) of y over x, one colour per series. */
export function lineChartSpec(points: readonly SeriesPoint[], options: LineChartOptions): TopLevelSpec {
  const pointSeries = new Set(options.pointSeries ?? []);
  const finite = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!options.logY || p.y > 0));
  const seriesOrder = [...new Set(finite.map((p) => p.series))];
  const y = {
    field: 'y',
    type: 'quantitative' as const,
    title: options.yTitle,
    scale: {
      ...(options.logY ? { type: 'log' as const } : { zero: false }),
      ...(options.yDomain ? { domain: [...options.yDomain] } : {}),
    },
  };
  const color = { field: 'series', type: 'nominal' as const, title: null, sort: seriesOrder };
  return {
    title: options.title,
    width: options.width ?? 520,
    height: options.height ?? 220,
    data: { values: finite.map((p) => ({ ...p })) },
    layer: [
      {
        transform: [{ filter: { not: { field: 'series', oneOf: [...pointSeries] } } }],
        mark: { type: 'line', strokeWidth: 1.5, clip: true },
        encoding: { x: { field: 'x', type: 'quantitative', title: options.xTitle }, y, color },
      },
      {
        transform: [{ filter: { field: 'series', oneOf: [...pointSeries] } }],
        mark: { type: 'line', point: true, strokeWidth: 2, clip: true },
        encoding: { x: { field: 'x', type: 'quantitative', title: options.xTitle }, y, color },
      },
    ],
  } as TopLevelSpec;
}

export interface RocSeries {
  /** Legend label, e.g. `test: AUC 0.912 (95% CI 0.871-0.948)`. */
  readonly label: string;
  readonly points: readonly { readonly fpr: number; readonly tpr: number }[];
  /** The operating point at the chosen threshold. */
  readonly operating?: { readonly fpr: number; readonly tpr: number };
}

export function rocChartSpec(series: readonly RocSeries[], title: string): TopLevelSpec {
  const curve = series.flatMap((s) => s.points.map((p, i) => ({ fpr: p.fpr, tpr: p.tpr, series: s.label, order: i })));
  const operating = series.flatMap((s) =>
    s.operating ? [{ fpr: s.operating.fpr, tpr: s.operating.tpr, series: s.label }] : [],
  );
  const labels = series.map((s) => s.label);
  const color = {
    field: 'series',
    type: 'nominal' as const,
    title: null,
    sort: labels,
    legend: { orient: 'bottom' as const, direction: 'vertical' as const },
  };
  const axis = (field: string, t: string): object => ({
    field,
    type: 'quantitative',
    title: t,
    scale: { domain: [0, 1] },
  });
  return {
    title,
    width: 320,
    height: 320,
    layer: [
      {
        data: {
          values: [
            { fpr: 0, tpr: 0 },
            { fpr: 1, tpr: 1 },
          ],
        },
        mark: { type: 'line', strokeDash: [4, 4], color: '#999' },
        encoding: {
          x: axis('fpr', 'False-positive rate (1 - specificity)'),
          y: axis('tpr', 'True-positive rate (sensitivity)'),
        },
      },
      {
        data: { values: curve },
        mark: { type: 'line', strokeWidth: 2, interpolate: 'linear' },
        encoding: {
          x: axis('fpr', 'False-positive rate (1 - specificity)'),
          y: axis('tpr', 'True-positive rate (sensitivity)'),
          color,
          order: { field: 'order', type: 'quantitative' },
        },
      },
      {
        data: { values: operating },
        mark: { type: 'point', filled: true, size: 70, shape: 'diamond' },
        encoding: { x: { field: 'fpr', type: 'quantitative' }, y: { field: 'tpr', type: 'quantitative' }, color },
      },
    ],
  } as TopLevelSpec;
}

export interface ConfusionCounts {
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
}

/** 2x2 heatmap, rows = actual class, columns = predicted class, counts written in the cells. */
export function confusionChartSpec(
  cm: ConfusionCounts,
  title: string,
  classNames: readonly [string, string] = ['negative', 'positive'],
): TopLevelSpec {
  const [neg, pos] = classNames;
  const cells = [
    { actual: pos, predicted: pos, count: cm.tp },
    { actual: pos, predicted: neg, count: cm.fn },
    { actual: neg, predicted: pos, count: cm.fp },
    { actual: neg, predicted: neg, count: cm.tn },
  ];
  const x = {
    field: 'predicted',
    type: 'nominal' as const,
    title: 'Predicted',
    sort: [neg, pos],
    axis: { labelAngle: 0 },
  };
  const y = { field: 'actual', type: 'nominal' as const, title: 'Actual', sort: [neg, pos] };
  return {
    title,
    width: 180,
    height: 180,
    data: { values: cells },
    layer: [
      {
        mark: 'rect',
        encoding: { x, y, color: { field: 'count', type: 'quantitative', scale: { scheme: 'blues' }, legend: null } },
      },
      {
        mark: { type: 'text', fontSize: 16, fontWeight: 'bold' },
        encoding: {
          x,
          y,
          text: { field: 'count', type: 'quantitative' },
          color: {
            condition: { test: `datum.count > ${Math.max(cm.tp, cm.fp, cm.tn, cm.fn) / 2}`, value: 'white' },
            value: 'black',
          },
        },
      },
    ],
  } as TopLevelSpec;
}

export interface PanelSpec {
  readonly title: string;
  readonly yTitle: string;
  readonly points: readonly SeriesPoint[];
  readonly height?: number;
  readonly logY?: boolean;
  /** Start the y axis at 0 (losses); otherwise the scale fits the data. */
  readonly zero?: boolean;
  readonly yDomain?: readonly [number, number];
  /** d3-format of the y labels, e.g. `.0%`. */
  readonly yFormat?: string;
  /** Series drawn as points joined by lines (per-epoch values). */
  readonly pointSeries?: readonly string[];
  /** Series drawn thin and pale behind the others (raw step values under their smoothing). */
  readonly faintSeries?: readonly string[];
}

/**
 * Charts stacked over one shared x axis in epochs (0 to `epochs`, whole-epoch ticks): the same
 * epoch lies at the same pixel in every panel, because the panels share the x scale and width
 * and every y axis reserves `Y_AXIS_EXTENT` pixels.
 */
export function epochPanelsSpec(panels: readonly PanelSpec[], epochs: number, width = 560): TopLevelSpec {
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    title: 'epoch',
    scale: { domain: [0, Math.max(1, epochs)], nice: false },
    axis: { tickMinStep: 1, format: 'd' },
  };
  const layerFor = (panel: PanelSpec): object => {
    const finite = panel.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!panel.logY || p.y > 0));
    const pointSeries = [...(panel.pointSeries ?? [])];
    const faint = [...(panel.faintSeries ?? [])];
    const seriesOrder = [...new Set(finite.map((p) => p.series))];
    const y = {
      field: 'y',
      type: 'quantitative' as const,
      title: panel.yTitle,
      scale: {
        ...(panel.logY ? { type: 'log' as const } : { zero: panel.zero ?? false }),
        ...(panel.yDomain ? { domain: [...panel.yDomain] } : {}),
      },
      ...(panel.yFormat ? { axis: { format: panel.yFormat } } : {}),
    };
    const color = {
      field: 'series',
      type: 'nominal' as const,
      title: null,
      sort: seriesOrder,
      legend: { orient: 'right' as const },
    };
    return {
      title: panel.title,
      width,
      height: panel.height ?? 200,
      data: { values: finite.map((p) => ({ ...p })) },
      layer: [
        {
          transform: [{ filter: { field: 'series', oneOf: faint } }],
          mark: { type: 'line', strokeWidth: 1, opacity: 0.3, clip: true },
          encoding: { x, y, color },
        },
        {
          transform: [{ filter: { not: { field: 'series', oneOf: [...pointSeries, ...faint] } } }],
          mark: { type: 'line', strokeWidth: 1.8, clip: true },
          encoding: { x, y, color },
        },
        {
          transform: [{ filter: { field: 'series', oneOf: pointSeries } }],
          mark: { type: 'line', point: true, strokeWidth: 2, clip: true },
          encoding: { x, y, color },
        },
      ],
    };
  };
  return {
    vconcat: panels.map(layerFor),
    spacing: 28,
    resolve: { scale: { x: 'shared', color: 'independent' }, legend: { color: 'independent' } },
  } as TopLevelSpec;
}

/**
 * Exponential moving average with TensorBoard's bias correction: the first values are not pulled
 * towards 0. `weight` 0 returns the input; values near 1 smooth more.
 */
export function smoothSeries(values: readonly number[], weight: number): number[] {
  const out: number[] = [];
  let last = 0;
  let count = 0;
  for (const v of values) {
    count++;
    last = last * weight + (1 - weight) * v;
    out.push(weight === 0 ? v : last / (1 - weight ** count));
  }
  return out;
}
