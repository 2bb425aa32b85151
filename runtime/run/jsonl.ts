/**
 * The run log: one JSON object per line, one line per training step and per epoch.
 * In: records from the trainer. Out: `log.jsonl` in the run folder. Holds afterwards: each
 * record is handed to the OS with one write before `log` returns, so a killed process keeps
 * every complete line (an OS crash may lose the tail unless `sync()` was called, which the
 * trainer does at epoch ends). The reader accepts a truncated last line, the only damage a
 * kill can do, and reports it; on resume the logger cuts that partial line off before
 * appending, so the file stays valid JSONL.
 */
import { NvccError, systemErrorOf } from '../errors.js';
import * as fs from 'node:fs';

/** Any log line: `type` says which kind. Non-finite numbers are written as null by JSON. */
export interface LogRecord {
  readonly type: string;
  readonly [key: string]: unknown;
}

export interface StepRecord extends LogRecord {
  readonly type: 'step';
  readonly stage: string;
  /** 1-based epoch within the stage. */
  readonly epoch: number;
  /** 1-based step within the epoch. */
  readonly step: number;
  /** 1-based step counted across the whole stage, the x axis of step curves. */
  readonly globalStep: number;
  readonly loss: number;
  readonly lr: number;
  /** Seconds since the run (not this process) started. */
  readonly elapsed?: number;
}

export interface EpochRecord extends LogRecord {
  readonly type: 'epoch';
  readonly stage: string;
  readonly epoch: number;
  /** Mean training loss over the epoch. */
  readonly trainLoss?: number;
  readonly lr?: number;
  /** Validation metrics by name, e.g. `{ auc: 0.91, accuracy: 0.86, loss: 0.34 }`. */
  readonly metrics?: Readonly<Record<string, number | null>>;
  readonly elapsed?: number;
}

export function isStepRecord(r: LogRecord): r is StepRecord {
  return r.type === 'step' && typeof r['stage'] === 'string' && typeof r['globalStep'] === 'number';
}

export function isEpochRecord(r: LogRecord): r is EpochRecord {
  return r.type === 'epoch' && typeof r['stage'] === 'string' && typeof r['epoch'] === 'number';
}

/** A log that is damaged other than by a truncated last line. */
export class JsonlError extends NvccError {
  constructor(message: string) {
    super('data', message);
    this.name = 'JsonlError';
  }
}

export interface JsonlContents {
  readonly records: LogRecord[];
  /** The unparsable partial last line, if the writer was killed mid-line. */
  readonly truncatedTail?: string;
}

/** Parses JSONL text; see `readJsonl`. `source` names the file in errors. */
export function parseJsonl(text: string, source = 'log'): JsonlContents {
  const lines = text.split('\n');
  const endsWithNewline = text.endsWith('\n');
  const records: LogRecord[] = [];
  let truncatedTail: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim().length === 0) continue;
    const isLast = i === lines.length - 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (isLast && !endsWithNewline) {
        truncatedTail = line;
        break;
      }
      throw new JsonlError(`${source}, line ${i + 1}: not valid JSON: ${line.slice(0, 80)}`);
    }
    if (
      typeof value !== 'object' ||
      value === null ||
      Array.isArray(value) ||
      typeof (value as LogRecord).type !== 'string'
    ) {
      throw new JsonlError(`${source}, line ${i + 1}: expected an object with a string "type"`);
    }
    records.push(value as LogRecord);
  }
  return truncatedTail === undefined ? { records } : { records, truncatedTail };
}

/** Reads a run log, tolerating a truncated last line (see the module comment). */
export function readJsonl(file: string): JsonlContents {
  return parseJsonl(fs.readFileSync(file, 'utf8'), file);
}

/** Cuts a partial last line (no trailing newline) off the file; returns bytes removed. */
export function repairJsonlTail(file: string): number {
  if (!fs.existsSync(file)) return 0;
  const data = fs.readFileSync(file);
  if (data.length === 0 || data[data.length - 1] === 0x0a) return 0;
  const lastNewline = data.lastIndexOf(0x0a);
  const keep = lastNewline + 1;
  fs.truncateSync(file, keep);
  return data.length - keep;
}

export interface JsonlLoggerOptions {
  /** Continue an existing log (after cutting a partial last line) instead of requiring a new file. */
  readonly resume?: boolean;
}

export class JsonlLogger {
  private fd: number | undefined;
  private readonly listeners: ((record: LogRecord) => void)[] = [];

  private constructor(
    readonly path: string,
    fd: number,
    /** Bytes of a partial last line removed on resume (0 for a clean log). */
    readonly repairedBytes: number,
  ) {
    this.fd = fd;
  }

  /** Opens `file` for appending; a new run refuses an existing log, a resume repairs and appends. */
  static open(file: string, options: JsonlLoggerOptions = {}): JsonlLogger {
    if (options.resume) {
      const repaired = repairJsonlTail(file);
      return new JsonlLogger(file, fs.openSync(file, 'a'), repaired);
    }
    return new JsonlLogger(file, fs.openSync(file, 'ax'), 0);
  }

  /** Appends one record as one line. */
  log(record: LogRecord): void {
    if (this.fd === undefined) throw new Error(`log ${this.path} is closed`);
    const bytes = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    let offset = 0;
    try {
      while (offset < bytes.length) offset += fs.writeSync(this.fd, bytes, offset, bytes.length - offset);
    } catch (err) {
      throw systemErrorOf(err, { path: this.path, action: 'write' }) ?? err;
    }
    for (const listener of this.listeners) listener(record);
  }

  /** Calls `listener` with every record logged from now on, after it is written (derived logs). */
  onRecord(listener: (record: LogRecord) => void): void {
    this.listeners.push(listener);
  }

  step(record: Omit<StepRecord, 'type'>): void {
    this.log({ type: 'step', ...record });
  }

  epoch(record: Omit<EpochRecord, 'type'>): void {
    this.log({ type: 'epoch', ...record });
  }

  /** Forces written lines to stable storage (epoch ends, before checkpoints). */
  sync(): void {
    if (this.fd === undefined) return;
    try {
      fs.fsyncSync(this.fd);
    } catch (err) {
      throw systemErrorOf(err, { path: this.path, action: 'write' }) ?? err;
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fs.fsyncSync(fd);
    } catch (err) {
      throw systemErrorOf(err, { path: this.path, action: 'write' }) ?? err;
    } finally {
      fs.closeSync(fd);
    }
  }
}
