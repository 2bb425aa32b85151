/**
 * The script of the page `nvcc export --web` writes: a trained run's model in the browser.
 * In: the run's WebPageData (JSON in index.html), the build's model factories (bundled with this
 * file by workflow/export-web.ts), the weights file and tfjs's wasm files next to index.html, and
 * a reader's lab values and X-rays (the form, a file input or a drop). Out: the patient's
 * probability of the positive class, pooled over the images as the run pools them, and the class
 * called at the run's threshold; `window.nvccPage` exposes the state for scripts and tests.
 * Holds: inputs go through workflow/web/preprocess.ts (the training data path's own parsing,
 * encoding and normalisation); the model runs with training off and the same forward context as
 * `nvcc predict`; the page fetches only files of its own folder (its Content-Security-Policy
 * says so as well); a backend switch rebuilds the model on the new backend rather than moving
 * live tensors.
 */
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as nv from '../../runtime/browser.js';
import { poolByPatient } from '../../runtime/metrics/pooling.js';
import type { ModelFactory, TrainableModel } from '../../runtime/train/spec.js';
import { PAGE_DATA_ID, type WebPageData } from './page-data.js';
import { decodeDicomFrames, isDicom } from '../../runtime/data/dicom.js';
import { encodeLabForm, imageForModel, normaliseImage, ownBands, type Pixels } from './preprocess.js';

const tf = nv.tf;
/** Backends offered, in order of preference (wasm first: it computes as `nvcc predict` does on a CPU). */
const BACKENDS = ['wasm', 'webgl', 'cpu'] as const;
type Backend = (typeof BACKENDS)[number];

/** One scored patient. */
export interface PageResult {
  readonly probability: number;
  readonly perImage: readonly number[];
  readonly called: string;
  readonly backend: string;
}

/** What scripts (and the browser tests) can read and call; the page's own form uses the same functions. */
export interface PageApi {
  /** Settles when the weights are loaded on the first usable backend. */
  readonly ready: Promise<void>;
  /** Backends that initialised in this browser. */
  available: Backend[];
  backend: Backend | undefined;
  last: PageResult | undefined;
  /** Scores a patient: lab texts by field name and image files. */
  predict(labs: Readonly<Record<string, string>>, images: readonly Blob[]): Promise<PageResult>;
  useBackend(name: Backend): Promise<void>;
}

declare global {
  interface Window {
    nvccPage?: PageApi;
  }
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

/** A user-facing refusal (bad value, unreadable image): shown, not thrown further. */
class InputProblem extends Error {}

/**
 * The pictures in a file: one for a PNG or JPEG (decoded by the browser without colour
 * management), one per frame for a DICOM file (windowed by runtime/data/dicom.ts, as training does).
 */
async function decodeImage(
  file: Blob,
  name: string,
  dicom: WebPageData['dataset']['images']['dicom'],
): Promise<Pixels[]> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (isDicom(bytes)) {
    try {
      const frames = await decodeDicomFrames(bytes, dicom);
      return frames.map((f) => ({ data: f.pixels, width: f.width, height: f.height, bands: 1 }));
    } catch (e) {
      throw new InputProblem(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new InputProblem(`${name}: not a PNG or JPEG image this browser can decode`);
  }
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new InputProblem('this browser gives no 2D canvas to read pixels with');
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  return [ownBands({ width: pixels.width, height: pixels.height, data: pixels.data })];
}

/** The model's stored input drawn at its own size, so the reader sees what the model sees. */
function preview(pixels: Uint8Array, width: number, height: number, channels: number, title: string): HTMLElement {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.title = title;
  const context = canvas.getContext('2d');
  if (context) {
    const rgba = new ImageData(width, height);
    for (let i = 0; i < width * height; i++) {
      for (let c = 0; c < 3; c++) rgba.data[4 * i + c] = pixels[i * channels + (channels === 3 ? c : 0)]!;
      rgba.data[4 * i + 3] = 255;
    }
    context.putImageData(rgba, 0, 0);
  }
  return canvas;
}

function logitsOf(out: nv.tf.Tensor | Readonly<Record<string, nv.tf.Tensor>>): nv.tf.Tensor {
  if (out instanceof tf.Tensor) return out;
  const logits = out.logits;
  if (!logits) throw new Error(`the model returned {${Object.keys(out).join(', ')}}, no logits`);
  return logits;
}

/** Wires the page: loads the weights, fills the backend list and answers the form. */
export function startPage(factories: Readonly<Record<string, ModelFactory>>): PageApi {
  const data = JSON.parse(element(PAGE_DATA_ID).textContent ?? '') as WebPageData;
  const status = element<HTMLElement>('status');
  const output = element<HTMLOutputElement>('probability');
  const called = element<HTMLElement>('called');
  const perImage = element<HTMLElement>('per-image');
  const backendSelect = element<HTMLSelectElement>('backend');
  const fileInput = element<HTMLInputElement>('images');
  const drop = element<HTMLElement>('drop');
  const previews = element<HTMLElement>('previews');
  const form = element<HTMLFormElement>('patient');
  const factory = factories[data.stage.factory];
  let weights: Uint8Array | undefined;
  let model: TrainableModel | undefined;
  let dropped: File[] = [];

  const say = (state: string, text: string) => {
    status.dataset.state = state;
    status.textContent = text;
  };

  const api: PageApi = {
    ready: Promise.resolve(),
    available: [],
    backend: undefined,
    last: undefined,
    predict,
    useBackend,
  };

  async function useBackend(name: Backend): Promise<void> {
    if (!factory) throw new Error(`the bundled code has no model factory '${data.stage.factory}'`);
    if (!weights) throw new Error('the weights are not loaded yet');
    say('loading', `loading the model on ${name}...`);
    model?.dispose();
    model = undefined;
    if (!(await tf.setBackend(name))) throw new Error(`the ${name} backend does not initialise in this browser`);
    await tf.ready();
    nv.seed(0);
    const created = factory.create();
    nv.loadWeightsFromBytes(created, weights, data.weights.file);
    model = created;
    api.backend = name;
    backendSelect.value = name;
    say('ready', `ready: ${data.stage.className} on ${name}`);
  }

  async function predict(labs: Readonly<Record<string, string>>, images: readonly Blob[]): Promise<PageResult> {
    if (!model || !api.backend) throw new Error('the model is not loaded yet');
    const encoded = encodeLabForm(data.dataset, data.stats.fields, labs);
    if ('problems' in encoded)
      throw new InputProblem(encoded.problems.map((p) => `${p.group}.${p.field}: ${p.message}`).join('\n'));
    const spec = data.dataset.images;
    const [h, w] = spec.size;
    const c = spec.channels;
    const usesImages = data.stage.imageInputs.length > 0;
    if (usesImages && images.length === 0) throw new InputProblem('add at least one X-ray (PNG, JPEG or DICOM)');
    // Every picture is one image of the patient: a multi-frame DICOM file gives one per frame.
    const stored: { name: string; pixels: Uint8Array }[] = [];
    for (const [i, file] of (usesImages ? images : []).entries()) {
      const name = file instanceof File ? file.name : `image ${i + 1}`;
      const pictures = await decodeImage(file, name, spec.dicom);
      pictures.forEach((p, k) =>
        stored.push({ name: pictures.length > 1 ? `${name} frame ${k + 1}` : name, pixels: imageForModel(p, spec) }),
      );
    }
    const count = usesImages ? stored.length : 1;
    const pixels = new Float32Array(count * h * w * c);
    previews.replaceChildren();
    stored.forEach((s, i) => {
      previews.append(preview(s.pixels, w, h, c, s.name));
      pixels.set(normaliseImage(s.pixels, spec, data.stats.image), i * h * w * c);
    });
    const current = model;
    const positive = tf.tidy(() => {
      const inputs: Record<string, nv.tf.Tensor> = {};
      for (const name of data.stage.inputs) {
        const group = encoded.encoded[name];
        if (group) {
          const rows = new Float32Array(count * group.length);
          for (let i = 0; i < count; i++) rows.set(group, i * group.length);
          inputs[name] = tf.tensor2d(rows, [count, group.length]);
        } else inputs[name] = tf.tensor4d(pixels, [count, h, w, c]);
      }
      const logits = logitsOf(current.forward({ training: false, rng: nv.createRng(0) }, inputs));
      return tf.squeeze(tf.slice(tf.softmax(logits), [0, 1], [-1, 1]), [1]);
    });
    const perImageValues = Array.from(await positive.data());
    positive.dispose();
    const pooled = poolByPatient(
      perImageValues.map(() => 'patient'),
      perImageValues.map(() => 0),
      perImageValues,
      data.pooling,
    ).scores[0]!;
    const classes = data.dataset.classes.map((k) => k.name);
    const result: PageResult = {
      probability: pooled,
      perImage: perImageValues,
      called: pooled >= data.threshold ? (classes[1] ?? 'positive') : (classes[0] ?? 'negative'),
      backend: api.backend,
    };
    api.last = result;
    return result;
  }

  function formValues(): Record<string, string> {
    const values: Record<string, string> = {};
    for (const group of data.dataset.groups)
      for (const field of group.fields) {
        const input = form.elements.namedItem(field.name) as HTMLInputElement | HTMLSelectElement | null;
        if (input) values[field.name] = input.value;
      }
    return values;
  }

  function currentImages(): File[] {
    return fileInput.files && fileInput.files.length > 0 ? Array.from(fileInput.files) : dropped;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    say('working', 'scoring...');
    predict(formValues(), currentImages()).then(
      (r) => {
        output.value = r.probability.toFixed(4);
        output.dataset.probability = String(r.probability);
        output.dataset.backend = r.backend;
        const threshold = data.threshold.toFixed(4);
        called.textContent = `${r.called} at the run's threshold ${threshold} (${data.thresholdSource})`;
        perImage.textContent =
          r.perImage.length > 1
            ? `per image: ${r.perImage.map((p) => p.toFixed(4)).join(', ')} (${data.pooling}-pooled as in the run)`
            : '';
        say('done', `scored on ${r.backend}`);
      },
      (e: unknown) => {
        output.value = '';
        delete output.dataset.probability;
        say('error', e instanceof Error ? e.message : String(e));
      },
    );
  });

  fileInput.addEventListener('change', () => {
    dropped = [];
  });
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    dropped = event.dataTransfer ? Array.from(event.dataTransfer.files) : [];
    fileInput.value = '';
    drop.dataset.count = String(dropped.length);
    say('ready', `${dropped.length} image${dropped.length === 1 ? '' : 's'} dropped`);
  });
  backendSelect.addEventListener('change', () => {
    useBackend(backendSelect.value as Backend).catch((e: unknown) =>
      say('error', e instanceof Error ? e.message : String(e)),
    );
  });

  const start = async () => {
    // The wasm binaries lie next to index.html; tfjs would otherwise look beside the script's URL.
    setWasmPaths(new URL('./', document.baseURI).href);
    say('loading', `loading ${data.weights.file}...`);
    const response = await fetch(data.weights.file);
    if (!response.ok) throw new Error(`${data.weights.file}: HTTP ${response.status}`);
    weights = new Uint8Array(await response.arrayBuffer());
    for (const name of BACKENDS) {
      let usable = false;
      try {
        usable = await tf.setBackend(name);
      } catch {
        usable = false;
      }
      const option = backendSelect.querySelector<HTMLOptionElement>(`option[value="${name}"]`);
      if (option) {
        option.disabled = !usable;
        if (!usable) option.textContent = `${name} (not available in this browser)`;
      }
      if (usable) api.available.push(name);
    }
    const first = api.available[0];
    if (!first) throw new Error('no TensorFlow.js backend initialises in this browser');
    await useBackend(first);
  };
  (api as { ready: Promise<void> }).ready = start().catch((e: unknown) => {
    say('error', e instanceof Error ? e.message : String(e));
    throw e;
  });
  window.nvccPage = api;
  return api;
}
