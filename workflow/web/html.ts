/**
 * index.html of the page `nvcc export --web` writes.
 * In: the WebPageData of the run and the name of the bundled script. Out: one HTML document:
 * the lab form (one control per declared field, in declaration order), the X-ray input with a
 * drop zone, the backend choice, the result, and beside them the run's metrics and diagram.
 * Holds: the document names no resource outside its own folder (system fonts, no CDN) and its
 * Content-Security-Policy lets it load nothing else (the one inline script, allowed by its hash,
 * tells a reader who opened the file directly to serve the folder); every run-provided text is escaped; the
 * run data are embedded as JSON that cannot close its script element.
 */
import { createHash } from 'node:crypto';
import { escapeHtml, percent } from '../../runtime/report/html.js';
import type { FieldSpec } from '../../runtime/data/spec.js';
import { PAGE_DATA_ID, type PageSplitMetrics, type WebPageData } from './page-data.js';

function fieldControl(field: FieldSpec): string {
  const id = `field-${field.name}`;
  const name = escapeHtml(field.name);
  const optional = field.missing.kind !== 'error';
  const blank = optional ? '<option value="">missing</option>' : '<option value="" disabled selected>choose</option>';
  const options = (pairs: readonly (readonly [string, string])[]) =>
    `<select id="${escapeHtml(id)}" name="${name}">${blank}${pairs
      .map(([value, label]) => `<option value="${escapeHtml(value)}">${escapeHtml(label)}</option>`)
      .join('')}</select>`;
  let control: string;
  let note = '';
  switch (field.type.kind) {
    case 'binary':
      control = field.type.levels
        ? options(field.type.levels.map((l) => [l, l] as const))
        : options([
            ['0', 'no (0)'],
            ['1', 'yes (1)'],
          ]);
      break;
    case 'category':
      control = options(field.type.levels.map((l) => [l, l] as const));
      break;
    case 'number':
      control =
        `<input id="${escapeHtml(id)}" name="${name}" type="text" inputmode="decimal" autocomplete="off"` +
        ` placeholder="${optional ? 'missing' : 'required'}">`;
      note = field.transforms.length ? field.transforms.join(', ') : '';
      break;
  }
  return (
    `<label for="${escapeHtml(id)}"><span class="name">${name}</span>${control}` +
    `${note ? `<span class="note">${escapeHtml(note)}</span>` : ''}</label>`
  );
}

function metricsRow(m: PageSplitMetrics): string {
  const ci =
    m.auc !== null && m.aucLower !== null && m.aucUpper !== null
      ? ` <span class="ci">(${percent(m.aucLower)}–${percent(m.aucUpper)})</span>`
      : '';
  const cells = [
    escapeHtml(m.split),
    `${m.patients} (${m.positives} positive)`,
    `${percent(m.auc)}${ci}`,
    percent(m.accuracy),
    percent(m.sensitivity),
    percent(m.specificity),
  ];
  return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
}

/** JSON that is safe inside `<script>`: no `</script>`, no `<!--`. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * Opened from `file://`, the browser runs no module script and lets the page fetch nothing beside
 * it: this inline script (allowed by its hash, nothing else inline is) says what to do instead.
 */
const FILE_NOTICE =
  "if (location.protocol === 'file:') { const s = document.getElementById('status'); s.dataset.state = 'error'; " +
  "s.textContent = 'This page was opened as a file, and browsers do not let a page read the files beside it. ' + " +
  "'Serve its folder with any static server (python3 -m http.server -d FOLDER) and open http://localhost:8000/.'; }";
const FILE_NOTICE_HASH = `'sha256-${createHash('sha256').update(FILE_NOTICE).digest('base64')}'`;

/**
 * Own origin only: scripts (and compiling tfjs's wasm), fetches, images (the diagram; data: for the
 * icon) and styles; tfjs's threaded wasm starts its workers from blob: URLs.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  `script-src 'self' 'wasm-unsafe-eval' ${FILE_NOTICE_HASH}`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
].join('; ');

/** The backends the page offers (page.ts tries each and disables those that do not start). */
const BACKENDS = ['wasm', 'webgl', 'cpu'] as const;

const STYLE = `
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6575; --line: #d6dbe3; --accent: #2457a6; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); background: #f6f7f9; }
header { padding: 16px 24px; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 4px; font-size: 20px; }
header p { margin: 0; color: var(--muted); }
main { display: grid; grid-template-columns: minmax(320px, 1fr) minmax(320px, 1fr); gap: 24px; padding: 24px; }
section, aside > div { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; }
aside { display: grid; gap: 24px; align-content: start; }
section, aside { min-width: 0; }
aside > div { overflow-x: auto; }
h2 { font-size: 16px; margin: 0 0 12px; }
fieldset { border: 0; padding: 0; margin: 0 0 16px; display: grid; grid-template-columns: repeat(2, 1fr);
  gap: 8px 16px; }
legend { font-weight: 600; margin-bottom: 8px; }
label { display: grid; gap: 2px; }
label .name { font-weight: 500; }
label .note { color: var(--muted); font-size: 12px; }
input, select, button { font: inherit; padding: 4px 6px; border: 1px solid var(--line); border-radius: 4px; }
#drop { border: 2px dashed var(--line); border-radius: 8px; padding: 16px; text-align: center; color: var(--muted);
  margin: 8px 0 16px; }
#drop.over { border-color: var(--accent); color: var(--accent); }
#previews canvas { width: 96px; height: 96px; image-rendering: pixelated; margin: 4px; border: 1px solid var(--line); }
button { background: var(--accent); color: #fff; border: 0; padding: 8px 16px; cursor: pointer; }
#result { margin-top: 16px; }
#probability { font-size: 32px; font-weight: 600; }
#status { color: var(--muted); white-space: pre-wrap; }
#status[data-state="error"] { color: #a61b1b; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
td, th { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
.ci { color: var(--muted); white-space: nowrap; }
#diagram img { max-width: 100%; height: auto; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
`;

/** The page's HTML; `script` is the bundled page script's file name (same folder). */
export function renderPageHtml(data: WebPageData, script: string): string {
  const groups = data.dataset.groups
    .map(
      (g) =>
        `<fieldset><legend>${escapeHtml(g.name)} (${g.fields.length} values)</legend>` +
        `${g.fields.map(fieldControl).join('\n')}</fieldset>`,
    )
    .join('\n');
  const [h, w] = data.dataset.images.size;
  const imageInput =
    data.stage.imageInputs.length > 0
      ? `<h2>X-rays</h2>
<input id="images" type="file" accept="image/png,image/jpeg,application/dicom,.dcm,.dicom" multiple>
<div id="drop">Drop PNG, JPEG or DICOM images of the patient here. Each is resized to ${w}&times;${h},
${data.dataset.images.channels === 1 ? 'grey' : 'colour'} (${escapeHtml(data.dataset.images.fit)}),
and the image scores are ${escapeHtml(data.pooling)}-pooled as in the run.</div>
<div id="previews"></div>`
      : `<input id="images" type="file" hidden><div id="drop" hidden></div><div id="previews" hidden></div>`;
  const metrics = data.metrics.length
    ? `<table><thead><tr><th>split</th><th>patients</th><th>AUC (95% CI)</th><th>accuracy</th>` +
      `<th>sensitivity</th><th>specificity</th></tr></thead><tbody>${data.metrics.map(metricsRow).join('')}` +
      `</tbody></table><p>Threshold ${data.threshold.toFixed(4)}: ${escapeHtml(data.thresholdSource)}.</p>`
    : '<p>The run recorded no patient-level evaluation for this stage.</p>';
  const diagram =
    'file' in data.diagram
      ? `<img src="${escapeHtml(data.diagram.file)}" alt="diagram of ${escapeHtml(data.stage.className)}">`
      : `<p>${escapeHtml(data.diagram.missing)}</p>`;
  const title = `${data.run.name}: ${data.stage.className} (stage ${data.stage.name})`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p>Run folder ${escapeHtml(data.run.folder)}, program ${escapeHtml(data.run.program)}${
    data.run.variant ? ` (variant ${escapeHtml(data.run.variant)})` : ''
  }. Everything runs in this browser; nothing is sent anywhere. A research model, not a medical device.</p>
</header>
<main>
<section>
<form id="patient" autocomplete="off">
<h2>Lab values</h2>
${groups}
${imageInput}
<label for="backend"><span class="name">TensorFlow.js backend</span>
<select id="backend">${BACKENDS.map((b) => `<option value="${b}">${b}</option>`).join('')}</select></label>
<p><button id="predict" type="submit">Predict</button></p>
</form>
<div id="result">
<h2>Probability of ${escapeHtml(data.dataset.classes[1]?.name ?? 'the positive class')}</h2>
<output id="probability" for="patient"></output>
<p id="called"></p>
<p id="per-image"></p>
<p id="status" data-state="loading">loading...</p>
<script>${FILE_NOTICE}</script>
</div>
</section>
<aside>
<div id="metrics"><h2>How the run scored (stage ${escapeHtml(data.stage.name)})</h2>${metrics}</div>
<div id="diagram"><h2>${escapeHtml(data.stage.className)}</h2>${diagram}</div>
</aside>
</main>
<script type="application/json" id="${PAGE_DATA_ID}">${scriptJson(data)}</script>
<script type="module" src="${escapeHtml(script)}"></script>
</body>
</html>
`;
}
