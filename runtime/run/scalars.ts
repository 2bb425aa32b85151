/**
 * Scalar logs for the tools researchers already use: TensorBoard event files and `metrics.csv`.
 * In: the run log's records (`log.jsonl`, the single source of truth), as they are written and,
 * on resume, the records already in the log. Out: `events.out.tfevents.<time>.nvcc` (TFRecord
 * framing with masked CRC32C around `tensorflow.Event` protobuf messages holding
 * `Summary.Value.simple_value` scalars) and `metrics.csv` (one row per epoch) in the run folder.
 * Holds afterwards: both files are a pure function of the log's records. On resume the log has
 * already been cut back to the checkpoint, so the event file is rebuilt from it (atomically)
 * before new records are appended; a step taken again therefore never appears twice, and a
 * record torn by a kill is replaced at the next start.
 *
 * Tags: `<stage>/train/loss` and `<stage>/train/lr` per step, `<stage>/train/epoch_loss` and
 * `<stage>/val/<metric>` per epoch, all at the stage's own step count (the report's x axis).
 * Wire format (facts from TensorFlow's event.proto, summary.proto and record_writer.cc):
 * Event.wall_time = 1 (double), step = 2 (int64), file_version = 3 (string), summary = 5;
 * Summary.value = 1; Summary.Value.tag = 1, simple_value = 2 (float). A record is
 * `uint64 length, uint32 masked_crc32c(length), data, uint32 masked_crc32c(data)`, little
 * endian, with mask(crc) = ((crc >>> 15) | (crc << 17)) + 0xa282ead8.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from './atomic.js';
import { isEpochRecord, isStepRecord, type LogRecord } from './jsonl.js';

export const METRICS_CSV = 'metrics.csv';
export const EVENTS_PREFIX = 'events.out.tfevents.';

// ---------------------------------------------------------------- CRC32C (Castagnoli)

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC32C_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

// ---------------------------------------------------------------- protobuf encoding

class ProtoWriter {
  private readonly parts: Uint8Array[] = [];

  private varint(value: bigint): void {
    const out: number[] = [];
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.parts.push(Uint8Array.from(out));
  }

  private key(field: number, wireType: number): void {
    this.varint(BigInt((field << 3) | wireType));
  }

  double(field: number, value: number): this {
    this.key(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    this.parts.push(b);
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.parts.push(b);
    return this;
  }

  int64(field: number, value: number): this {
    this.key(field, 0);
    this.varint(BigInt(value));
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, 2);
    this.varint(BigInt(value.length));
    this.parts.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  finish(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

export interface Scalar {
  readonly tag: string;
  readonly step: number;
  readonly value: number;
  /** Seconds since the Unix epoch. */
  readonly wallTime: number;
}

function eventBytes(wallTime: number, step: number, body: (w: ProtoWriter) => void): Uint8Array {
  const w = new ProtoWriter().double(1, wallTime).int64(2, step);
  body(w);
  return w.finish();
}

function scalarEvent(s: Scalar): Uint8Array {
  const value = new ProtoWriter().string(1, s.tag).float(2, s.value).finish();
  const summary = new ProtoWriter().bytes(1, value).finish();
  return eventBytes(s.wallTime, s.step, (w) => w.bytes(5, summary));
}

/** One TFRecord: length, its masked CRC, the data, the data's masked CRC. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const header = new Uint8Array(12);
  const view = new DataView(header.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(header.subarray(0, 8)), true);
  const footer = new Uint8Array(4);
  new DataView(footer.buffer).setUint32(0, maskedCrc32c(data), true);
  return Buffer.concat([header, data, footer]);
}

/** The first record of every event file: the format version TensorBoard checks. */
export function fileVersionRecord(wallTime: number): Uint8Array {
  return tfRecord(eventBytes(wallTime, 0, (w) => w.string(3, 'brain.Event:2')));
}

export function scalarRecord(s: Scalar): Uint8Array {
  return tfRecord(scalarEvent(s));
}

// ---------------------------------------------------------------- records -> scalars, rows

/** The scalars one log record contributes (none for records that are not steps or epochs). */
export function scalarsOf(record: LogRecord, runStart: number, lastStageStep: ReadonlyMap<string, number>): Scalar[] {
  const at = (elapsed: unknown) => runStart + (typeof elapsed === 'number' ? elapsed : 0);
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (isStepRecord(record)) {
    const wallTime = at(record.elapsed);
    const out: Scalar[] = [];
    if (finite(record.loss))
      out.push({ tag: `${record.stage}/train/loss`, step: record.globalStep, value: record.loss, wallTime });
    if (finite(record.lr))
      out.push({ tag: `${record.stage}/train/lr`, step: record.globalStep, value: record.lr, wallTime });
    return out;
  }
  if (isEpochRecord(record)) {
    const wallTime = at(record.elapsed);
    const step = lastStageStep.get(record.stage) ?? 0;
    const out: Scalar[] = [];
    if (finite(record.trainLoss))
      out.push({ tag: `${record.stage}/train/epoch_loss`, step, value: record.trainLoss, wallTime });
    for (const [name, value] of Object.entries(record.metrics ?? {}))
      if (finite(value)) out.push({ tag: `${record.stage}/val/${name}`, step, value, wallTime });
    return out;
  }
  return [];
}

/** Shortest text that reads back as the same number; empty for a missing or non-finite value. */
function cell(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : '';
}

/** `metrics.csv`: one row per epoch, validation metrics as columns in first-seen order. */
export function metricsCsv(records: readonly LogRecord[]): string {
  const epochs = records.filter(isEpochRecord);
  const metricNames: string[] = [];
  for (const r of epochs)
    for (const name of Object.keys(r.metrics ?? {})) if (!metricNames.includes(name)) metricNames.push(name);
  const stepOf = new Map<string, number>();
  const rows: string[] = [
    ['stage', 'epoch', 'step', 'train_loss', 'lr', ...metricNames.map((m) => `val_${m}`), 'elapsed_s'].join(','),
  ];
  for (const r of records) {
    if (isStepRecord(r)) stepOf.set(r.stage, r.globalStep);
    if (!isEpochRecord(r)) continue;
    const quoted = /[",\n\r]/.test(r.stage) ? `"${r.stage.replace(/"/g, '""')}"` : r.stage;
    rows.push(
      [
        quoted,
        String(r.epoch),
        String(stepOf.get(r.stage) ?? 0),
        cell(r.trainLoss),
        cell(r.lr),
        ...metricNames.map((m) => cell(r.metrics?.[m])),
        cell(r.elapsed),
      ].join(','),
    );
  }
  return `${rows.join('\n')}\n`;
}

// ---------------------------------------------------------------- the live writer

export interface ScalarLogOptions {
  /** Run start in seconds since the Unix epoch (event wall times are start + elapsed). */
  readonly runStart: number;
  /** Records already in the log (resume); the files are rebuilt from them. */
  readonly existing?: readonly LogRecord[];
}

/**
 * Appends each record's scalars to the run's event file and rewrites `metrics.csv` at each epoch.
 * One event file per run: its name carries the run's start time, so a resumed run continues the
 * same file (rebuilt from the log first), and `tensorboard --logdir runs/` shows one run per folder.
 */
export class ScalarLog {
  private readonly records: LogRecord[];
  private readonly lastStageStep = new Map<string, number>();
  private fd: number | undefined;
  readonly eventsPath: string;
  readonly csvPath: string;

  constructor(
    readonly runDir: string,
    private readonly options: ScalarLogOptions,
  ) {
    this.records = [...(options.existing ?? [])];
    this.eventsPath = path.join(runDir, `${EVENTS_PREFIX}${Math.floor(options.runStart)}.nvcc`);
    this.csvPath = path.join(runDir, METRICS_CSV);
    const chunks: Uint8Array[] = [fileVersionRecord(options.runStart)];
    for (const r of this.records) chunks.push(...this.scalarRecords(r));
    writeFileAtomicSync(this.eventsPath, Buffer.concat(chunks));
    writeFileAtomicSync(this.csvPath, metricsCsv(this.records));
    this.fd = fs.openSync(this.eventsPath, 'a');
  }

  private scalarRecords(record: LogRecord): Uint8Array[] {
    if (isStepRecord(record)) this.lastStageStep.set(record.stage, record.globalStep);
    return scalarsOf(record, this.options.runStart, this.lastStageStep).map(scalarRecord);
  }

  add(record: LogRecord): void {
    if (this.fd === undefined) return;
    this.records.push(record);
    const bytes = Buffer.concat(this.scalarRecords(record));
    let offset = 0;
    while (offset < bytes.length) offset += fs.writeSync(this.fd, bytes, offset, bytes.length - offset);
    if (isEpochRecord(record)) writeFileAtomicSync(this.csvPath, metricsCsv(this.records));
  }

  close(): void {
    if (this.fd === undefined) return;
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** The run's event file, if it has one. */
export function findEventFile(runDir: string): string | undefined {
  const name = fs
    .readdirSync(runDir)
    .filter((f) => f.startsWith(EVENTS_PREFIX))
    .sort()[0];
  return name === undefined ? undefined : path.join(runDir, name);
}
