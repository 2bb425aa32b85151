/**
 * `nvcc train --init STAGE[.PATH]=FILE`: a stage starts from an official ConvNeXt-V2 checkpoint.
 * In: the flag's values, the checked train declaration and the program's model factories; FILE is
 * a safetensors file holding an official ConvNeXt-V2 state dict: an ImageNet classifier (dense
 * names, optionally under `module.`/`model.`) or an FCMAE checkpoint (`encoder.` names, also in
 * the sparse MinkowskiEngine layout of the official code, mapped as its utils.py remaps them).
 * PATH names the module of the stage's model that is the ConvNeXt-V2 (`enc` for MED-NVC's
 * encoder; default the model itself).
 * Out: per stage one weights file in the tfjs layout under the model's own keys, holding the
 * converted parameters of that module, which both engines load before the stage's hand-over:
 * the tfjs runner (`initWeights`) and the torch trainer (`--init`). As the official fine-tuning
 * code does, a classifier `head` whose shape differs from the model's (ImageNet's 1000 classes)
 * is dropped, and a model's `norm`/`head` the file lacks (FCMAE checkpoints) keep their initial
 * values; the FCMAE decoder is dropped.
 * Holds afterwards: a checkpoint that does not fit is refused before anything is written, with
 * ONE WeightsMismatchError listing the missing, unexpected and mis-shaped keys.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type BackendRequest, initBackend } from '../runtime/backend.js';
import { convertConvNeXtV2State } from '../runtime/io/convnextv2-import.js';
import type { HostTensor } from '../runtime/io/safetensors.js';
import { parseSafetensors } from '../runtime/io/safetensors.js';
import { UserError } from '../runtime/errors.js';
import type { TrainSpec } from '../runtime/train/spec.js';
import { type Module, setInitRng } from '../runtime/module.js';
import { createRng } from '../runtime/rng.js';

export interface InitRequest {
  readonly stage: string;
  /** Module path inside the stage's model; '' = the model. */
  readonly path: string;
  readonly file: string;
}

export interface PreparedInit {
  readonly stage: string;
  readonly request: InitRequest;
  /** Converted tensors under the stage model's keys (tfjs layout). */
  readonly tensors: Map<string, HostTensor>;
  /** Checkpoint keys left out, and why. */
  readonly dropped: ReadonlyArray<{ key: string; reason: string }>;
  /** Model parameters under PATH that keep their initial values. */
  readonly keptInitial: readonly string[];
}

/** Parses `STAGE[.PATH]=FILE` values; a stage named twice is refused. */
export function parseInitFlags(values: readonly string[], spec: TrainSpec): InitRequest[] {
  const out: InitRequest[] = [];
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0 || eq === value.length - 1)
      throw new UserError(
        `--init ${value}: expected STAGE=FILE or STAGE.PATH=FILE (e.g. --init images.enc=ckpt.safetensors)`,
      );
    const target = value.slice(0, eq);
    const dot = target.indexOf('.');
    const stage = dot < 0 ? target : target.slice(0, dot);
    const modulePath = dot < 0 ? '' : target.slice(dot + 1);
    if (!spec.stages.some((s) => s.name === stage))
      throw new UserError(
        `--init ${value}: ${spec.name} has no stage '${stage}' (stages: ${spec.stages.map((s) => s.name).join(', ')})`,
      );
    if (out.some((r) => r.stage === stage)) throw new UserError(`--init names stage '${stage}' twice`);
    out.push({ stage, path: modulePath, file: value.slice(eq + 1) });
  }
  return out;
}

function readCheckpoint(file: string): Map<string, HostTensor> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch {
    throw new UserError(`--init: cannot read ${file}`);
  }
  if (/\.(pt|pth|ckpt|bin|pkl)$/i.test(file))
    throw new UserError(
      `--init ${file}: PyTorch pickle checkpoints are not read (unpickling runs code); convert it once to ` +
        'safetensors (docs/torch-target.md, "Starting from an official checkpoint")',
    );
  const parsed = parseSafetensors(bytes, file);
  return new Map([...parsed.tensors].map(([k, e]) => [k, e.tensor] as const));
}

/** The classifier head of the file, when its shape is not the model's: dropped, as the official fine-tuning does. */
function headMismatch(model: Module, raw: ReadonlyMap<string, HostTensor>): (key: string) => boolean {
  const headWeight = model
    .find('head')
    ?.namedParameters()
    .find(([k]) => k === 'weight')?.[1];
  const fileHead = [...raw].find(([k]) => /(^|\.)head\.weight$/.test(k) && !k.includes('encoder.'))?.[1];
  if (!headWeight || !fileHead) return () => false;
  // PyTorch Linear (out, in) against the model's [in, out].
  const [inF, outF] = headWeight.variable.shape;
  const differs = fileHead.shape[0] !== outF || fileHead.shape[1] !== inF;
  return (key) => differs && (key === 'head.weight' || key === 'head.bias');
}

/**
 * Converts each requested checkpoint for its stage's model (built here with `create`, then
 * disposed). Throws WeightsMismatchError (missing, unexpected, mis-shaped keys) or UserError.
 */
export async function prepareInitWeights(
  requests: readonly InitRequest[],
  spec: TrainSpec,
  models: Readonly<Record<string, { create(): Module }>>,
  backend?: BackendRequest,
): Promise<PreparedInit[]> {
  if (requests.length === 0) return [];
  // The tfjs models are built to learn their parameters' names and shapes (the tfjs engine's backend
  // is the one its training then uses).
  await initBackend({ ...(backend ? { backend } : {}), quiet: true });
  return requests.map((request) => {
    const stage = spec.stages.find((s) => s.name === request.stage)!;
    const factory = models[stage.model.factory];
    if (!factory) throw new UserError(`--init: the build has no model for stage '${stage.name}'`);
    // Only the parameters' names and shapes are used; the values drawn here are thrown away.
    setInitRng(createRng(0));
    const model = factory.create();
    try {
      const target = request.path ? model.find(request.path) : model;
      if (!target)
        throw new UserError(
          `--init ${request.stage}.${request.path}: the model of stage '${stage.name}' has no module ` +
            `'${request.path}' (it has: ${[...model.children().keys()].join(', ')})`,
        );
      const raw = readCheckpoint(request.file);
      const { tensors, dropped, keptInitial } = convertConvNeXtV2State(target, raw, path.resolve(request.file), {
        ignore: headMismatch(target, raw),
        allowMissing: (k) => k.startsWith('head.') || k.startsWith('norm.'),
      });
      const prefix = request.path ? `${request.path}.` : '';
      const droppedHead = dropped.map((d) =>
        d.reason === 'ignored by option' ? { ...d, reason: "the classifier head's shape differs from the model's" } : d,
      );
      return {
        stage: stage.name,
        request,
        tensors: new Map([...tensors].map(([k, t]) => [`${prefix}${k}`, t] as const)),
        dropped: droppedHead,
        keptInitial: keptInitial.map((k) => `${prefix}${k}`),
      };
    } finally {
      model.dispose();
    }
  });
}
