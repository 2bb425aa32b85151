/**
 * The built-in synthetic PJI cohort: a seeded generative model of patients with 14 lab values
 * and 1-4 radiograph-like images of a hip or knee arthroplasty, shaped like the MED-NVC data
 * (489 patients, ~45% infected, ~2.4 images per patient).
 * In: { patients, seed, imageSize }. Out: latent variables, lab rows and 8-bit grayscale images
 * (in memory; `writePjiCohort` writes labs.csv, images/<id>_<k>.png and cohort.json).
 * Holds afterwards: the cohort is a pure function of (patients, seed, imageSize, generator
 * version); the label acts on the data only through the documented latent variables, so the
 * Bayes-optimal scores (`bayesScores`) are exact. docs/synthetic-cohort.md explains the model.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { rocAuc as metricsRocAuc } from '../metrics/roc.js';
import type { Rng } from '../module.js';
import { createRng, RNG_ALGORITHM } from '../rng.js';
import {
  AttenuationCanvas,
  develop,
  ellipse,
  halfPlaneCut,
  intersect,
  NOTHING,
  outline,
  region,
  rim,
  taperedCapsule,
  union,
  type Pose,
  type Shape,
} from './raster.js';
import type { DatasetSpec, FieldSpec, SyntheticSource } from './spec.js';

export const GENERATOR_VERSION = 'pji-synth/1';

export const COMORBIDITIES = [
  'hypertension',
  'diabetes',
  'rheumatoid_arthritis',
  'anemia',
  'osteoporosis',
  'cerebral_infarction',
  'hypoalbuminemia',
  'hypothyroidism',
  'liver_disease',
] as const;

/** The 14 lab inputs, in the order of the MED-NVC lab vector. */
export const PJI_LAB_COLUMNS = ['crp', 'esr', 'joint', 'sex', 'age', ...COMORBIDITIES] as const;
export type Comorbidity = (typeof COMORBIDITIES)[number];

export type Phenotype = 'none' | 'acute' | 'chronic';
const INFECTED_PHENOTYPES = ['acute', 'chronic'] as const;

/**
 * Every number of the generative model. Positives are either `acute` (high-grade: strong
 * inflammation, few radiographic signs yet) or `chronic` (low-grade: modest inflammation,
 * loosening and periosteal reaction on the film): the two modalities are complementary.
 */
export const PJI_MODEL = {
  positiveFraction: 221 / 489,
  phenotypeWeights: { acute: 0.5, chronic: 0.5 },
  kneeFraction: 0.55,
  /** Images per patient 1..4 (mean 2.40, as 1,170 / 489 in the paper). */
  imagesPerPatient: [0.22, 0.33, 0.28, 0.17],
  age: { mean: 67, sd: 10, min: 30, max: 95 },
  maleFraction: { none: 0.42, acute: 0.5, chronic: 0.5 },
  /** Inflammation latent u ~ N(mean, 1); ln CRP and ln ESR are linear in u plus noise. */
  inflammationMean: { none: 0, acute: 2.0, chronic: 0.75 },
  lnCrp: { intercept: Math.log(3.5), slope: 1.0, noise: 0.45 },
  lnEsr: { intercept: Math.log(15), slope: 0.45, noise: 0.3 },
  /** Prevalence of each comorbidity: [uninfected, infected]. */
  comorbidity: {
    hypertension: [0.36, 0.42],
    diabetes: [0.12, 0.22],
    rheumatoid_arthritis: [0.03, 0.08],
    anemia: [0.12, 0.3],
    osteoporosis: [0.12, 0.16],
    cerebral_infarction: [0.06, 0.08],
    hypoalbuminemia: [0.07, 0.24],
    hypothyroidism: [0.05, 0.06],
    liver_disease: [0.04, 0.07],
  } satisfies Record<Comorbidity, readonly [number, number]>,
  /** Periprosthetic lucency: prevalence and severity range per phenotype (aseptic mimics in `none`). */
  lucency: {
    none: { p: 0.12, severity: [0.3, 0.8] },
    acute: { p: 0.3, severity: [0.4, 1.0] },
    chronic: { p: 0.85, severity: [0.4, 1.0] },
  },
  /** Periosteal reaction along the cortex. */
  periosteal: {
    none: { p: 0.03, severity: [0.3, 0.8] },
    acute: { p: 0.15, severity: [0.4, 1.0] },
    chronic: { p: 0.55, severity: [0.4, 1.0] },
  },
  /** A present finding shows on a given image with this probability, at visibility U(min, 1). */
  perImage: { shown: 0.85, minVisibility: 0.55 },
} as const;

type FindingKey = 'lucency' | 'periosteal';

export interface Finding {
  readonly present: boolean;
  /** 0 when absent. */
  readonly severity: number;
}

export interface PjiImageLatent {
  /** Rendered strength of each finding on this image (severity x visibility; 0 = not shown). */
  readonly lucency: number;
  readonly periosteal: number;
}

export interface PjiPatient {
  readonly id: string;
  readonly infected: 0 | 1;
  readonly phenotype: Phenotype;
  readonly joint: 'hip' | 'knee';
  /** 1 = male, as in the paper's table (0/1). */
  readonly sex: 0 | 1;
  readonly age: number;
  /** Inflammation latent and the exact (unrounded) log lab values it produced. */
  readonly inflammation: number;
  readonly lnCrp: number;
  readonly lnEsr: number;
  /** As written in the table: CRP mg/L with 2 decimals, ESR mm/h integer. */
  readonly crp: number;
  readonly esr: number;
  readonly comorbidities: Readonly<Record<Comorbidity, 0 | 1>>;
  readonly lucency: Finding;
  readonly periosteal: Finding;
  readonly images: readonly PjiImageLatent[];
  /** Left-side joint (images mirrored). */
  readonly left: boolean;
}

export interface PjiImage {
  readonly patientId: string;
  readonly index: number;
  /** `<id>_<k>.png` */
  readonly file: string;
  readonly size: number;
  /** Grayscale, row-major, size x size. */
  readonly pixels: Uint8Array;
}

export interface PjiCohort {
  readonly options: PjiCohortOptions;
  readonly patients: readonly PjiPatient[];
  readonly images: readonly PjiImage[];
}

export interface PjiCohortOptions {
  readonly patients: number;
  readonly seed: number;
  readonly imageSize: number;
}

// ---------------------------------------------------------------------------------------------
// Latent variables and lab values

function bernoulli(rng: Rng, p: number): 0 | 1 {
  return rng.uniform() < p ? 1 : 0;
}

function uniformIn(rng: Rng, [lo, hi]: readonly [number, number] | readonly number[]): number {
  return lo! + (hi! - lo!) * rng.uniform();
}

function categorical(rng: Rng, weights: readonly number[]): number {
  let r = rng.uniform() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!;
    if (r < 0) return i;
  }
  return weights.length - 1;
}

export function patientId(index: number, patients: number): string {
  return `P${String(index + 1).padStart(Math.max(4, String(patients).length), '0')}`;
}

/** Exactly round(N x 221/489) positives, at seeded positions. */
function labels(rng: Rng, n: number): Array<0 | 1> {
  const positives = Math.round(n * PJI_MODEL.positiveFraction);
  const out: Array<0 | 1> = Array.from({ length: n }, (_, i) => (i < positives ? 1 : 0));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function drawFinding(rng: Rng, key: FindingKey, phenotype: Phenotype): Finding {
  const m = PJI_MODEL[key][phenotype];
  if (rng.uniform() >= m.p) return { present: false, severity: 0 };
  return { present: true, severity: uniformIn(rng, m.severity) };
}

function drawPatient(rng: Rng, index: number, n: number, infected: 0 | 1): PjiPatient {
  const M = PJI_MODEL;
  const phenotype: Phenotype = infected
    ? INFECTED_PHENOTYPES[categorical(rng, [M.phenotypeWeights.acute, M.phenotypeWeights.chronic])]!
    : 'none';
  const joint = rng.uniform() < M.kneeFraction ? 'knee' : 'hip';
  const sex = bernoulli(rng, M.maleFraction[phenotype]);
  const age = Math.round(Math.min(M.age.max, Math.max(M.age.min, M.age.mean + M.age.sd * rng.normal())));
  const inflammation = M.inflammationMean[phenotype] + rng.normal();
  const lnCrp = M.lnCrp.intercept + M.lnCrp.slope * inflammation + M.lnCrp.noise * rng.normal();
  const lnEsr = M.lnEsr.intercept + M.lnEsr.slope * inflammation + M.lnEsr.noise * rng.normal();
  const comorbidities = {} as Record<Comorbidity, 0 | 1>;
  for (const c of COMORBIDITIES) comorbidities[c] = bernoulli(rng, M.comorbidity[c][infected]);
  const lucency = drawFinding(rng, 'lucency', phenotype);
  const periosteal = drawFinding(rng, 'periosteal', phenotype);
  const count = 1 + categorical(rng, M.imagesPerPatient);
  const images: PjiImageLatent[] = [];
  const shown = (f: Finding): number =>
    f.present && rng.uniform() < M.perImage.shown ? f.severity * uniformIn(rng, [M.perImage.minVisibility, 1]) : 0;
  for (let k = 0; k < count; k++) images.push({ lucency: shown(lucency), periosteal: shown(periosteal) });
  return {
    id: patientId(index, n),
    infected,
    phenotype,
    joint,
    sex,
    age,
    inflammation,
    lnCrp,
    lnEsr,
    crp: Math.max(0.1, Math.round(Math.exp(lnCrp) * 100) / 100),
    esr: Math.max(1, Math.round(Math.exp(lnEsr))),
    comorbidities,
    lucency,
    periosteal,
    images,
    left: rng.uniform() < 0.5,
  };
}

/** The patients' latent variables and lab values, without rendering images. */
export function samplePjiPatients(patients: number, seed: number): PjiPatient[] {
  if (!Number.isInteger(patients) || patients < 1)
    throw new RangeError(`patients must be a positive integer, got ${patients}`);
  const root = createRng(seed).fork('pji-cohort');
  const y = labels(root.fork('labels'), patients);
  return y.map((label, i) => drawPatient(root.fork(`patient/${i}`), i, patients, label));
}

// ---------------------------------------------------------------------------------------------
// Bayes-optimal scores

function logNormalPdf2(x: number, y: number, mx: number, my: number, sxx: number, syy: number, sxy: number): number {
  const det = sxx * syy - sxy * sxy;
  const dx = x - mx;
  const dy = y - my;
  const q = (syy * dx * dx - 2 * sxy * dx * dy + sxx * dy * dy) / det;
  return -0.5 * q - Math.log(2 * Math.PI) - 0.5 * Math.log(det);
}

/** log p(ln CRP, ln ESR | phenotype): bivariate normal after integrating out the latent u. */
function logInflammationLikelihood(p: PjiPatient, ph: Phenotype): number {
  const { lnCrp: a, lnEsr: b, inflammationMean } = PJI_MODEL;
  const m = inflammationMean[ph];
  return logNormalPdf2(
    p.lnCrp,
    p.lnEsr,
    a.intercept + a.slope * m,
    b.intercept + b.slope * m,
    a.slope * a.slope + a.noise * a.noise,
    b.slope * b.slope + b.noise * b.noise,
    a.slope * b.slope,
  );
}

/** log p(sex, comorbidities | label): identical for both infected phenotypes. */
function logBinaryLabsLikelihood(p: PjiPatient, infected: 0 | 1): number {
  let s = 0;
  for (const c of COMORBIDITIES) {
    const q = PJI_MODEL.comorbidity[c][infected];
    s += Math.log(p.comorbidities[c] ? q : 1 - q);
  }
  const male = PJI_MODEL.maleFraction[infected ? 'acute' : 'none'];
  return s + Math.log(p.sex ? male : 1 - male);
}

function logFindingLikelihood(f: Finding, key: FindingKey, ph: Phenotype): number {
  const m = PJI_MODEL[key][ph];
  if (!f.present) return Math.log(1 - m.p);
  const [lo, hi] = m.severity;
  return f.severity >= lo && f.severity <= hi ? Math.log(m.p / (hi - lo)) : -Infinity;
}

/** The ideal reader of the films sees each finding's presence and severity (an upper bound). */
function logImageLikelihood(p: PjiPatient, ph: Phenotype): number {
  return logFindingLikelihood(p.lucency, 'lucency', ph) + logFindingLikelihood(p.periosteal, 'periosteal', ph);
}

function logSumExp(a: number, b: number): number {
  const m = Math.max(a, b);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

export interface BayesScores {
  /** Posterior log-odds of infection from the lab values only. */
  readonly labs: number;
  /** ... from the image findings only. */
  readonly images: number;
  /** ... from both. */
  readonly combined: number;
}

/** Bayes-optimal posterior log-odds (up to the prior) of one patient, per modality. */
export function bayesScores(p: PjiPatient): BayesScores {
  const w = PJI_MODEL.phenotypeWeights;
  const bin1 = logBinaryLabsLikelihood(p, 1);
  const bin0 = logBinaryLabsLikelihood(p, 0);
  const lab = (ph: Phenotype): number => logInflammationLikelihood(p, ph);
  const img = (ph: Phenotype): number => logImageLikelihood(p, ph);
  const mix = (f: (ph: Phenotype) => number): number =>
    logSumExp(Math.log(w.acute) + f('acute'), Math.log(w.chronic) + f('chronic'));
  return {
    labs: bin1 + mix(lab) - (bin0 + lab('none')),
    images: mix(img) - img('none'),
    combined: bin1 + mix((ph) => lab(ph) + img(ph)) - (bin0 + lab('none') + img('none')),
  };
}

/**
 * ROC AUC with ties counted one half, scores first (the order `nvcc synth` and the bench use);
 * the computation is runtime/metrics/roc.ts's. Bayes log-likelihood ratios may be +-Infinity
 * (a finding only one class can show), so the scores go in as their ranks: AUC depends on the
 * order alone, and the ranks are finite.
 */
export function rocAuc(scores: readonly number[], labels: readonly (0 | 1)[]): number {
  const distinct = [...new Set(scores)].sort((a, b) => a - b);
  const rank = new Map(distinct.map((s, i) => [s, i]));
  return metricsRocAuc(
    labels,
    scores.map((s) => (Number.isNaN(s) ? s : rank.get(s)!)),
  );
}

/** Monte-Carlo Bayes-optimal AUC per modality, over `patients` fresh draws of the model. */
export function bayesAuc(patients: number, seed: number): { labs: number; images: number; combined: number } {
  const cohort = samplePjiPatients(patients, seed);
  const y = cohort.map((p) => p.infected);
  const s = cohort.map(bayesScores);
  return {
    labs: rocAuc(
      s.map((x) => x.labs),
      y,
    ),
    images: rocAuc(
      s.map((x) => x.images),
      y,
    ),
    combined: rocAuc(
      s.map((x) => x.combined),
      y,
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** A slab between t0 and t1 along the segment a-b (unbounded across it). */
function slab(ax: number, ay: number, bx: number, by: number, t0: number, t1: number): Shape {
  const len = Math.hypot(bx - ax, by - ay);
  const ex = (bx - ax) / len;
  const ey = (by - ay) / len;
  return region((x, y) => {
    const t = ((x - ax) * ex + (y - ay) * ey) / len;
    return Math.max(t0 - t, t - t1) * len;
  });
}

interface Scene {
  /** Bone whose cortex may show periosteal reaction: shaft segment and radii. */
  readonly shaft: { ax: number; ay: number; bx: number; by: number; ra: number; rb: number };
  /** Implant surfaces that touch bone, where lucency forms. */
  readonly interface: Shape;
  /** Draws the zone of the interface a lucency occupies. */
  readonly interfaceZone: (rng: Rng) => Shape;
}

const METAL = 'tissue' as const;

function drawHip(c: AttenuationCanvas, rng: Rng, bone: number): Scene {
  const j = (s: number): number => s * (1 + 0.04 * rng.normal());
  // Soft tissue of pelvis and thigh.
  c.add(ellipse(0.55, 0.62, 0.55, 0.7), 0.28, 'tissue');
  c.add(ellipse(0.62, 0.85, 0.34, 0.5), 0.12, 'tissue');
  const cx = 0.42 + 0.01 * rng.normal();
  const cy = 0.3 + 0.01 * rng.normal();
  const cupR = j(0.1);
  // Pelvis: ilium above the socket, the ramus with the obturator foramen below it.
  c.add(ellipse(cx - 0.1, cy - 0.16, j(0.3), j(0.17), 0.25), 0.35 * bone);
  c.add(ellipse(cx, cy, cupR + 0.07, cupR + 0.05), 0.3 * bone);
  c.add(ellipse(cx - 0.12, cy + 0.2, j(0.15), j(0.1)), 0.3 * bone);
  c.add(ellipse(cx - 0.12, cy + 0.2, 0.075, 0.05), -0.24 * bone);
  // Proximal femur: neck, trochanters, shaft with medullary canal.
  const shaft = { ax: 0.58, ay: 0.42, bx: 0.63 + 0.02 * rng.normal(), by: 1.2, ra: j(0.105), rb: j(0.085) };
  c.add(taperedCapsule(cx, cy, 0.55, 0.45, 0.06, 0.08), 0.35 * bone);
  c.add(taperedCapsule(shaft.ax, shaft.ay, shaft.bx, shaft.by, shaft.ra, shaft.rb), 0.75 * bone);
  c.add(taperedCapsule(shaft.ax, shaft.ay + 0.04, shaft.bx, shaft.by, shaft.ra * 0.58, shaft.rb * 0.52), -0.38 * bone);
  c.add(ellipse(0.67, 0.4, j(0.07), j(0.085)), 0.45 * bone);
  c.add(ellipse(0.52, 0.56, 0.035, 0.03), 0.3 * bone);
  // Implant: acetabular cup (a shell opening down-laterally), head, neck, stem.
  const incl = (40 + 6 * rng.normal()) * (Math.PI / 180);
  const nx = -Math.cos(incl);
  const ny = -Math.sin(incl);
  c.add(halfPlaneCut(outline(ellipse(cx, cy, cupR, cupR), 0.024), cx, cy, nx, ny), 2.0, METAL);
  c.add(ellipse(cx, cy, cupR * 0.62, cupR * 0.62), 1.6, METAL);
  c.add(taperedCapsule(cx, cy, 0.55, 0.45, 0.026, 0.034), 1.6, METAL);
  const stemEnd = { x: shaft.ax + ((shaft.bx - shaft.ax) * (0.86 - shaft.ay)) / (shaft.by - shaft.ay), y: 0.86 };
  const stem = taperedCapsule(0.56, 0.45, stemEnd.x, stemEnd.y, j(0.042), j(0.02));
  c.add(stem, 1.8, METAL);
  const cupBack = halfPlaneCut(ellipse(cx, cy, cupR + 0.012, cupR + 0.012), cx, cy, nx, ny);
  return {
    shaft,
    interface: union(stem, cupBack),
    interfaceZone: (r) => {
      // Gruen-like zones: a stretch along the stem, sometimes also behind the cup.
      const t0 = 0.35 * r.uniform();
      const along = slab(0.56, 0.45, stemEnd.x, stemEnd.y, t0, Math.min(1.05, t0 + 0.55 + 0.45 * r.uniform()));
      const behindCup = r.uniform() < 0.4 ? rim(cupBack, 0.08) : NOTHING;
      return union(along, behindCup);
    },
  };
}

function drawKnee(c: AttenuationCanvas, rng: Rng, bone: number): Scene {
  const j = (s: number): number => s * (1 + 0.04 * rng.normal());
  c.add(ellipse(0.5, 0.5, 0.44, 0.75), 0.3, 'tissue');
  // Femur, condyles, patella.
  c.add(taperedCapsule(0.5, -0.2, 0.5, 0.34, j(0.1), j(0.13)), 0.7 * bone);
  c.add(taperedCapsule(0.5, -0.2, 0.5, 0.3, 0.058, 0.07), -0.33 * bone);
  const lx = 0.39 + 0.01 * rng.normal();
  const mx = 0.61 + 0.01 * rng.normal();
  c.add(ellipse(lx, 0.4, j(0.1), j(0.075)), 0.5 * bone);
  c.add(ellipse(mx, 0.4, j(0.1), j(0.075)), 0.5 * bone);
  c.add(ellipse(0.5, 0.32, j(0.075), j(0.085)), 0.25 * bone);
  // Femoral component: shells over both condyles and a box between them.
  const shellL = halfPlaneCut(outline(ellipse(lx, 0.4, 0.106, 0.081), 0.024), lx, 0.37, 0, 1);
  const shellM = halfPlaneCut(outline(ellipse(mx, 0.4, 0.106, 0.081), 0.024), mx, 0.37, 0, 1);
  c.add(union(shellL, shellM), 1.7, METAL);
  c.add(taperedCapsule(lx, 0.36, mx, 0.36, 0.012, 0.012), 1.2, METAL);
  // Tibia: plateau, shaft, medullary canal; fibula.
  const ty = 0.535 + 0.01 * rng.normal();
  const shaft = { ax: 0.5, ay: ty + 0.05, bx: 0.49 + 0.02 * rng.normal(), by: 1.2, ra: j(0.14), rb: j(0.085) };
  c.add(ellipse(0.5, ty + 0.045, j(0.19), j(0.055)), 0.55 * bone);
  c.add(taperedCapsule(shaft.ax, shaft.ay, shaft.bx, shaft.by, shaft.ra, shaft.rb), 0.65 * bone);
  c.add(taperedCapsule(0.5, ty + 0.09, shaft.bx, shaft.by, 0.085, 0.045), -0.3 * bone);
  c.add(taperedCapsule(0.69, ty + 0.09, 0.67, 1.2, 0.032, 0.022), 0.45 * bone);
  c.add(ellipse(0.69, ty + 0.1, 0.04, 0.035), 0.2 * bone);
  // Tibial tray and keel.
  const tray = taperedCapsule(0.33, ty, 0.67, ty, 0.014, 0.014);
  const keel = taperedCapsule(0.5, ty, 0.5, ty + j(0.19), 0.03, 0.018);
  c.add(tray, 1.8, METAL);
  c.add(keel, 1.8, METAL);
  return {
    shaft,
    interface: union(tray, keel),
    interfaceZone: (r) => {
      // Under one or both halves of the tray, and along the keel.
      const side = r.uniform();
      const x0 = side >= 0.33 && side < 0.66 ? 0.5 : 0.3;
      const x1 = side < 0.33 ? 0.5 : 0.7;
      const under = region((x, y) => Math.max(ty + 0.005 - y, x0 - x, x - x1));
      const alongKeel = region((x, y) => Math.max(ty + 0.005 - y, Math.abs(x - 0.5) - 0.07));
      return union(under, alongKeel);
    },
  };
}

/** Renders image k of a patient: anatomy, implant, findings, then film. */
export function renderPjiImage(p: PjiPatient, k: number, size: number, seed: number): Uint8Array {
  const rng = createRng(seed).fork('pji-cohort').fork(`image/${p.id}/${k}`);
  const latent = p.images[k]!;
  const close = rng.uniform() < 0.25;
  const pose: Pose = {
    angle: 0.1 * rng.normal(),
    scale: close ? 1.2 + 0.15 * rng.uniform() : 0.92 + 0.16 * rng.uniform(),
    dx: 0.04 * rng.normal(),
    dy: 0.04 * rng.normal(),
    mirror: p.left,
  };
  const canvas = new AttenuationCanvas(size, pose);
  // Bone density: older and osteoporotic patients have fainter bone.
  const bone = Math.max(0.6, 1.05 - 0.004 * (p.age - 60) - 0.12 * p.comorbidities.osteoporosis + 0.05 * rng.normal());
  const scene = p.joint === 'hip' ? drawHip(canvas, rng, bone) : drawKnee(canvas, rng, bone);
  if (latent.lucency > 0) {
    // A dark band of resorbed bone along the implant-bone interface.
    const width = 0.035 + 0.04 * latent.lucency;
    canvas.resorb(
      intersect(rim(scene.interface, width, 0.002), scene.interfaceZone(rng)),
      Math.min(0.97, 0.6 + 0.5 * latent.lucency),
    );
  }
  if (latent.periosteal > 0) {
    // New bone laid down just outside the cortex over a stretch of the shaft.
    const { ax, ay, bx, by, ra, rb } = scene.shaft;
    const t0 = 0.05 + 0.25 * rng.uniform();
    const cortex = taperedCapsule(ax, ay, bx, by, ra, rb);
    const zone = slab(ax, ay, bx, by, t0, t0 + 0.3 + 0.3 * latent.periosteal);
    const thick = 0.025 + 0.03 * latent.periosteal;
    const gap = 0.008 + 0.008 * rng.uniform();
    canvas.add(intersect(rim(cortex, thick, gap), zone), 0.6 + 0.7 * latent.periosteal);
    if (latent.periosteal > 0.55)
      canvas.add(intersect(rim(cortex, thick * 0.7, gap + thick + 0.012), zone), 0.35 * latent.periosteal);
  }
  return develop(
    canvas,
    {
      gain: 1.0 + 0.6 * rng.uniform(),
      gamma: 0.8 + 0.45 * rng.uniform(),
      fog: 0.08 * rng.uniform(),
      noise: 0.015 + 0.025 * rng.uniform(),
      blurPasses: 1 + (rng.uniform() < 0.5 ? 1 : 0),
      vignette: 0.6 * rng.uniform(),
    },
    rng,
  );
}

// ---------------------------------------------------------------------------------------------
// Cohort, table, files, spec

export function generatePjiCohort(options: PjiCohortOptions): PjiCohort {
  const { seed, imageSize } = options;
  if (!Number.isInteger(imageSize) || imageSize < 16 || imageSize > 1024)
    throw new RangeError(`image size must be an integer in 16..1024, got ${imageSize}`);
  const patients = samplePjiPatients(options.patients, seed);
  const images: PjiImage[] = [];
  for (const p of patients)
    for (let k = 0; k < p.images.length; k++)
      images.push({
        patientId: p.id,
        index: k,
        file: `${p.id}_${k}.png`,
        size: imageSize,
        pixels: renderPjiImage(p, k, imageSize, seed),
      });
  return { options, patients, images };
}

export const PJI_TABLE_HEADER = ['patient_id', 'infected', ...PJI_LAB_COLUMNS] as const;

/** One table row per patient, as strings, in PJI_TABLE_HEADER order. */
export function pjiTableRow(p: PjiPatient): string[] {
  return [
    p.id,
    String(p.infected),
    p.crp.toFixed(2),
    String(p.esr),
    p.joint,
    String(p.sex),
    String(p.age),
    ...COMORBIDITIES.map((c) => String(p.comorbidities[c])),
  ];
}

export function pjiTableCsv(patients: readonly PjiPatient[]): string {
  return [PJI_TABLE_HEADER.join(','), ...patients.map((p) => pjiTableRow(p).join(','))].join('\n') + '\n';
}

/** The generating parameters, written as cohort.json next to the data. */
export function pjiCohortDescription(options: PjiCohortOptions): object {
  return { generator: GENERATOR_VERSION, rng: RNG_ALGORITHM, ...options, model: PJI_MODEL };
}

export async function encodeGrayPng(pixels: Uint8Array, size: number): Promise<Buffer> {
  return sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), {
    raw: { width: size, height: size, channels: 1 },
  })
    .toColourspace('b-w')
    .png({ compressionLevel: 6 })
    .toBuffer();
}

/** Writes labs.csv, images/<id>_<k>.png and cohort.json into `dir`. */
export async function writePjiCohort(cohort: PjiCohort, dir: string): Promise<void> {
  await mkdir(join(dir, 'images'), { recursive: true });
  await writeFile(join(dir, 'labs.csv'), pjiTableCsv(cohort.patients));
  const queue = [...cohort.images];
  const worker = async (): Promise<void> => {
    for (let img = queue.shift(); img; img = queue.shift())
      await writeFile(join(dir, 'images', img.file), await encodeGrayPng(img.pixels, img.size));
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  await writeFile(join(dir, 'cohort.json'), JSON.stringify(pjiCohortDescription(cohort.options), null, 2) + '\n');
}

/**
 * The dataset spec of the built-in cohort, as `dataset PJI { source = synthetic_pji(...) }`
 * lowers to when nothing else is declared: 14 lab values (joint as one binary column).
 */
export function pjiDatasetSpec(source: SyntheticSource, overrides: Partial<DatasetSpec> = {}): DatasetSpec {
  const binary: FieldSpec['type'] = { kind: 'binary' };
  const field = (name: string, type: FieldSpec['type'], transforms: FieldSpec['transforms'] = []): FieldSpec => ({
    name,
    type,
    transforms,
    missing: { kind: 'error' },
  });
  return {
    name: 'PJI',
    source,
    id: 'patient_id',
    label: {
      column: 'infected',
      classes: [
        { name: 'negative', code: 0 },
        { name: 'positive', code: 1 },
      ],
    },
    images: {
      per: 'patient_id',
      pattern: '{id}_*',
      size: [source.imageSize, source.imageSize],
      channels: 1,
      fit: 'cover',
      normalize: 'dataset',
      dicom: { window: 'auto', invertMonochrome1: true },
    },
    groups: [
      {
        name: 'labs',
        fields: [
          field('crp', { kind: 'number' }, ['log1p', 'standardize']),
          field('esr', { kind: 'number' }, ['log1p', 'standardize']),
          field('joint', { kind: 'binary', levels: ['hip', 'knee'] }),
          field('sex', binary),
          field('age', { kind: 'number' }, ['standardize']),
          ...COMORBIDITIES.map((c) => field(c, binary)),
        ],
      },
    ],
    split: { by: 'patient_id', train: 0.7, val: 0.1, test: 0.2, stratified: true, seed: source.seed },
    pool: 'max',
    ...overrides,
  };
}
