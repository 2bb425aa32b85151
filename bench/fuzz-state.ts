/**
 * The fuzz bench's campaign state (bench/fuzz.ts): an append-only JSON-lines file that makes a
 * 100,000-input campaign accumulate over many runs and sessions.
 * In: the seed, the corpus (its digest), and the results of inputs as workers report them. Out:
 * the file `bench/out/fuzz-seed<seed>.jsonl` (a header naming the seed and corpus digest, then
 * one line per input measured, one per offender a worker did not survive, and one per run with
 * its wall time so far), and, read back, the results by input number.
 * Holds afterwards: an input is measured at most once per state file; a run resumed after any
 * interruption (SIGKILL included: a torn last line is ignored and its input run again) measures
 * exactly the inputs not yet in the file, so the figures of a campaign are those of one
 * uninterrupted run over the same inputs (CPU times aside); a state file is never continued with
 * another seed or corpus, since input `i` would then be another text.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command, CorpusFile } from './fuzz-inputs.js';

export interface Measured {
  readonly index: number;
  readonly cpuMs: number;
  readonly wallMs: number;
  /** Peak resident growth during the input, MB. */
  readonly growthMb: number;
  readonly strategies: readonly string[];
  /** The commands the input went through (check always; build, diagram, schedule when it checks). */
  readonly reached: readonly Command[];
  readonly crash?: string;
}

export type OffenderKind = 'crash' | 'over-time' | 'over-memory' | 'worker-died' | 'stalled';

export interface Offender {
  readonly index: number;
  readonly kind: OffenderKind;
  readonly detail: string;
}

interface Header {
  readonly fuzzState: 1;
  readonly seed: number;
  readonly corpus: string;
  readonly corpusFiles: number;
}

/** What a state file holds for its seed and corpus. */
export interface Campaign {
  readonly measured: Map<number, Measured>;
  /** Inputs whose worker died or was killed (over the CPU or memory watchdog, or stalled). */
  readonly lost: Map<number, Offender>;
  /** Wall seconds of every run so far, by run id (the last figure each run wrote). */
  readonly runWallS: Map<string, number>;
}

/** sha256 over the corpus paths and texts, in corpus order: input `i` names the same text iff equal. */
export function corpusDigest(corpus: readonly CorpusFile[]): string {
  const h = createHash('sha256');
  for (const f of corpus) h.update(`${f.path}\0${f.text}\0`);
  return h.digest('hex').slice(0, 16);
}

export function defaultStatePath(repo: string, seed: number): string {
  return path.join(repo, 'bench', 'out', `fuzz-seed${seed}.jsonl`);
}

/**
 * Reads the state file, creating it (with its header) when missing. Throws a one-line message
 * when the file belongs to another seed or corpus.
 */
export function openCampaign(file: string, seed: number, corpus: readonly CorpusFile[]): Campaign {
  const digest = corpusDigest(corpus);
  const campaign: Campaign = { measured: new Map(), lost: new Map(), runWallS: new Map() };
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const header: Header = { fuzzState: 1, seed, corpus: digest, corpusFiles: corpus.length };
    fs.writeFileSync(file, `${JSON.stringify(header)}\n`);
    return campaign;
  }
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const header = parseLine(lines[0] ?? '') as Header | undefined;
  if (header?.fuzzState !== 1) throw new Error(`${file} is not a fuzz state file (no header line)`);
  if (header.seed !== seed || header.corpus !== digest)
    throw new Error(
      `${file} holds seed ${header.seed} over corpus ${header.corpus} (${header.corpusFiles} files); ` +
        `this run is seed ${seed} over corpus ${digest} (${corpus.length} files): input numbers would name ` +
        'other texts. Give another --state file, or run from the checkout the campaign started in.',
    );
  // A run killed mid-write leaves a torn last line without its newline: cut it off, so that the
  // next append starts a line of its own. Its input is measured again.
  const text = lines.join('\n');
  if (!text.endsWith('\n')) fs.truncateSync(file, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
  // The last element is '' after a final newline, or the torn line cut off above.
  for (const line of lines.slice(1, -1)) {
    const record = parseLine(line) as
      | { measured: Measured }
      | { lost: Offender }
      | { run: string; wallS: number }
      | undefined;
    if (!record) continue;
    // A measured record supersedes a lost one for the same input (a lost input retried).
    if ('measured' in record) {
      campaign.measured.set(record.measured.index, record.measured);
      campaign.lost.delete(record.measured.index);
    } else if ('lost' in record && !campaign.measured.has(record.lost.index))
      campaign.lost.set(record.lost.index, record.lost);
    else if ('run' in record) campaign.runWallS.set(record.run, record.wallS);
  }
  return campaign;
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/**
 * The inputs of `from .. from + count - 1` that the campaign has not run yet, in order; with
 * `retryLost`, also those whose worker was killed or died (run again, their result replaces it).
 */
export function pendingInputs(campaign: Campaign, from: number, count: number, retryLost = false): number[] {
  const out: number[] = [];
  for (let i = from; i < from + count; i++)
    if (!campaign.measured.has(i) && (retryLost || !campaign.lost.has(i))) out.push(i);
  return out;
}

/** Appends records to the state file; lines are buffered and written at most once a second. */
export class StateWriter {
  private buffer: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly file: string,
    private readonly campaign: Campaign,
  ) {}
  measured(m: Measured): void {
    this.campaign.measured.set(m.index, m);
    this.campaign.lost.delete(m.index);
    this.push({ measured: m });
  }
  lost(o: Offender): void {
    this.campaign.lost.set(o.index, o);
    this.push({ lost: o });
  }
  runWall(run: string, wallS: number): void {
    this.campaign.runWallS.set(run, wallS);
    this.push({ run, wallS: Math.round(wallS) });
  }
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    fs.appendFileSync(this.file, this.buffer.join(''));
    this.buffer = [];
  }
  private push(record: unknown): void {
    this.buffer.push(`${JSON.stringify(record)}\n`);
    this.timer ??= setTimeout(() => this.flush(), 1000);
  }
}

/** The offenders among the measured inputs and those whose worker did not survive them. */
export function offendersOf(campaign: Campaign, maxCpuMs: number, maxGrowthMb: number): Offender[] {
  const out: Offender[] = [...campaign.lost.values()];
  for (const m of campaign.measured.values()) {
    if (m.crash !== undefined) out.push({ index: m.index, kind: 'crash', detail: m.crash });
    if (m.cpuMs > maxCpuMs) out.push({ index: m.index, kind: 'over-time', detail: `${m.cpuMs.toFixed(0)} ms CPU` });
    if (m.growthMb > maxGrowthMb)
      out.push({ index: m.index, kind: 'over-memory', detail: `${m.growthMb.toFixed(0)} MB` });
  }
  return out.sort((a, b) => a.index - b.index);
}
