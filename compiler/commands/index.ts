/**
 * The list of subcommands. Each module exports `register(program, setExit)`.
 */
import type { Command } from 'commander';
import { register as registerBuild } from './build.js';
import { register as registerDemo } from './demo.js';
import { register as registerDiagram } from './diagram.js';
import { register as registerDiff } from './diff.js';
import { register as registerCheck } from './check.js';
import { register as registerSummary } from './summary.js';
import { register as registerSynth } from './synth.js';
import { register as registerTrain } from './train.js';
import { register as registerEval } from './eval.js';
import { register as registerPredict } from './predict.js';
import { register as registerExperiment } from './experiment.js';

export type RegisterCommand = (program: Command, setExit: (code: number) => void) => void;

export const commands: readonly RegisterCommand[] = [registerCheck, registerSummary, registerBuild, registerDiagram, registerDiff, registerDemo, registerSynth, registerTrain, registerEval, registerPredict, registerExperiment];
