import { describe, expect, it } from 'vitest';
import {
  experimentTableHtml,
  experimentTableMarkdown,
  formatParameters,
  type ExperimentRow,
} from '../../runtime/report/index.js';

const rows: ExperimentRow[] = [
  {
    model: 'MLP',
    variant: 'mlp',
    fusion: 'Only-numeric',
    parameters: 16_002,
    auc: 0.9212,
    aucLower: 0.8804,
    aucUpper: 0.95671,
    accuracy: 0.8496,
    wallTimeSeconds: 42,
  },
  {
    model: 'ConvNeXt-V2-B',
    variant: 'convnext|img',
    fusion: 'Only-vision',
    parameters: 83_630_000,
    auc: 0.8593,
    aucLower: null,
    aucUpper: null,
    accuracy: 0.8252,
    wallTimeSeconds: 3725,
  },
  {
    model: 'MED-NVC',
    variant: 'full',
    fusion: 'Unidirectional Cross-Attention',
    parameters: 77_264_512,
    auc: 0.98224,
    aucLower: 0.9655,
    aucUpper: 0.99381,
    accuracy: 0.94714,
    wallTimeSeconds: 605,
  },
  {
    model: 'Tiny',
    variant: 'demo',
    fusion: '<none>',
    parameters: 812,
    auc: null,
    aucLower: null,
    aucUpper: null,
    accuracy: null,
    wallTimeSeconds: 1.4,
  },
];

describe('experiment table', () => {
  it('formats parameter counts as the paper does', () => {
    expect(formatParameters(16_002)).toBe('0.016M');
    expect(formatParameters(83_874_000)).toBe('83.87M');
    expect(formatParameters(812)).toBe('812');
  });

  it('writes the golden Markdown table', () => {
    const md = experimentTableMarkdown(rows, {
      title: 'Table II on the synthetic PJI cohort',
      command: 'nvcc experiment examples/mednvc.nvc --variants mlp,convnext,full',
      notes: ['AUC CI: percentile bootstrap, 1000 patient resamples.'],
    });
    expect(md).toBe(
      [
        '## Table II on the synthetic PJI cohort',
        '',
        '| Model | Variant | Multimodal fusion | Parameters | AUC (95% CI) | ACC | Wall time |',
        '| --- | --- | --- | ---: | ---: | ---: | ---: |',
        '| MLP | mlp | Only-numeric | 0.016M | 92.12% (88.04–95.67) | 84.96% | 42s |',
        '| ConvNeXt-V2-B | convnext\\|img | Only-vision | 83.63M | 85.93% (CI n/a) | 82.52% | 1h02m |',
        '| MED-NVC | full | Unidirectional Cross-Attention | 77.26M | 98.22% (96.55–99.38) | 94.71% | 10m05s |',
        '| Tiny | demo | &lt;none> | 812 | n/a | n/a | 1s |',
        '',
        'AUC CI: percentile bootstrap, 1000 patient resamples.',
        '',
        'Produced by:',
        '',
        '```',
        'nvcc experiment examples/mednvc.nvc --variants mlp,convnext,full',
        '```',
        '',
      ].join('\n'),
    );
  });

  it('writes the golden HTML table, escaped and self-contained', () => {
    const html = experimentTableHtml(rows.slice(2), {
      title: 'Results',
      command: 'nvcc experiment a.nvc --variants full,demo',
    });
    expect(html).toBe(
      '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Results</title>\n' +
        '<style>body{font-family:Helvetica,Arial,sans-serif;margin:2em}table{border-collapse:collapse}' +
        'th,td{border:1px solid #ccc;padding:4px ' +
        '10px;text-align:left}.num{text-align:right;font-variant-numeric:tabular-nums}</style>\n' +
        '</head><body>\n<h1>Results</h1>\n<table>\n' +
        '<thead><tr><th>Model</th><th>Variant</th><th>Multimodal fusion</th><th ' +
        'class="num">Parameters</th><th class="num">AUC (95% CI)</th><th class="num">ACC</th><th ' +
        'class="num">Wall time</th></tr></thead>\n' +
        '<tbody>\n' +
        '<tr><td>MED-NVC</td><td>full</td><td>Unidirectional Cross-Attention</td><td ' +
        'class="num">77.26M</td><td class="num">98.22% (96.55–99.38)</td><td class="num">94.71%</td><td ' +
        'class="num">10m05s</td></tr>\n' +
        '<tr><td>Tiny</td><td>demo</td><td>&lt;none&gt;</td><td class="num">812</td><td ' +
        'class="num">n/a</td><td class="num">n/a</td><td class="num">1s</td></tr>\n' +
        '</tbody>\n</table>\n' +
        '<p>Produced by:</p><pre>nvcc experiment a.nvc --variants full,demo</pre>\n</body></html>\n',
    );
    expect(html).not.toMatch(/https?:|<script|<link/);
  });

  it('adds the paired comparison columns when rows carry one (reference row marked, p below 0.001 as such)', () => {
    const compared: ExperimentRow[] = [
      {
        ...rows[0]!,
        comparison: {
          reference: 'full',
          difference: -0.061,
          lower: -0.0902,
          upper: -0.0331,
          pValue: 0.0005,
          patients: 98,
        },
      },
      {
        ...rows[1]!,
        comparison: {
          reference: 'full',
          difference: 0.00251,
          lower: -0.0148,
          upper: 0.0199,
          pValue: 0.7465,
          patients: 98,
        },
      },
      rows[2]!,
    ];
    const md = experimentTableMarkdown(compared).split('\n');
    expect(md.slice(0, 5)).toEqual([
      '| Model | Variant | Multimodal fusion | Parameters | AUC (95% CI) | ACC | Wall time | ΔAUC vs full ' +
        '(95% CI) | p |',
      '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      '| MLP | mlp | Only-numeric | 0.016M | 92.12% (88.04–95.67) | 84.96% | 42s | -6.10 (-9.02 to -3.31) | <0.001 |',
      '| ConvNeXt-V2-B | convnext\\|img | Only-vision | 83.63M | 85.93% (CI n/a) | 82.52% | 1h02m | +0.25 ' +
        '(-1.48 to +1.99) | 0.747 |',
      '| MED-NVC | full | Unidirectional Cross-Attention | 77.26M | 98.22% (96.55–99.38) | 94.71% | 10m05s | ' +
        '(reference) |  |',
    ]);
    const deltaHeader = '<th class="num">ΔAUC vs full (95% CI)</th><th class="num">p</th>';
    expect(experimentTableHtml(compared)).toContain(deltaHeader);
  });
});
