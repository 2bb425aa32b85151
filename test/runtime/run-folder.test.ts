import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createProgressDisplay,
  createRunDir,
  formatDuration,
  JsonlError,
  JsonlLogger,
  parseJsonl,
  readJsonl,
  RUN_FILES,
  RunDirError,
  runTimestamp,
  saveResolvedConfig,
  type ProgressStream,
} from '../../runtime/run/index.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-run-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('run folders', () => {
  const now = new Date(Date.UTC(2026, 10, 28, 1, 2, 3));

  it('creates runs/<name>-<timestamp> and never reuses a folder', () => {
    const root = path.join(dir, 'runs');
    const a = createRunDir({ root, name: 'mednvc demo', now });
    expect(a).toEqual({ path: path.join(root, 'mednvc-demo-20261128-010203'), resumed: false });
    expect(fs.statSync(a.path).isDirectory()).toBe(true);
    const meta = JSON.parse(fs.readFileSync(path.join(a.path, RUN_FILES.meta), 'utf8'));
    expect(meta).toMatchObject({ name: 'mednvc demo', createdAt: '2026-11-28T01:02:03.000Z' });
    const b = createRunDir({ root, name: 'mednvc demo', now });
    expect(b.path).toBe(`${a.path}-2`);
    expect(runTimestamp(now)).toBe('20261128-010203');
  });

  it('refuses to clobber an existing run or a non-empty folder, but resumes a run', () => {
    const run = path.join(dir, 'r1');
    createRunDir({ path: run });
    // Marked as a run at once, before any log line.
    expect(fs.readdirSync(run)).toEqual([RUN_FILES.meta]);
    expect(() => createRunDir({ path: run })).toThrow(RunDirError);
    expect(() => createRunDir({ path: run })).toThrow(/--resume/);
    expect(createRunDir({ path: run, resume: true })).toEqual({ path: run, resumed: true });
    const other = path.join(dir, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'notes.txt'), 'x');
    expect(() => createRunDir({ path: other })).toThrow(/not empty/);
    expect(() => createRunDir({ path: other, resume: true })).toThrow(/not a run folder/);
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    expect(createRunDir({ path: empty })).toEqual({ path: empty, resumed: false });
    expect(fs.existsSync(path.join(empty, RUN_FILES.meta))).toBe(true);
    expect(() => createRunDir({ path: path.join(dir, 'missing'), resume: true })).toThrow(/not a folder/);
  });
});

describe('JSONL log', () => {
  it('writes one object per line that survives without close, and reads them back', () => {
    const file = path.join(dir, 'log.jsonl');
    const log = JsonlLogger.open(file);
    log.step({ stage: 'pretrain', epoch: 1, step: 1, globalStep: 1, loss: 0.9, lr: 1e-4 });
    log.epoch({ stage: 'pretrain', epoch: 1, trainLoss: 0.85, metrics: { auc: Number.NaN } });
    // Not closed: a killed process leaves exactly what was written.
    const text = fs.readFileSync(file, 'utf8');
    expect(text.split('\n')).toHaveLength(3);
    const { records, truncatedTail } = readJsonl(file);
    expect(truncatedTail).toBeUndefined();
    expect(records).toEqual([
      { type: 'step', stage: 'pretrain', epoch: 1, step: 1, globalStep: 1, loss: 0.9, lr: 1e-4 },
      { type: 'epoch', stage: 'pretrain', epoch: 1, trainLoss: 0.85, metrics: { auc: null } },
    ]);
    log.close();
    expect(() => JsonlLogger.open(file)).toThrow(/EEXIST/);
  });

  it('tolerates a truncated last line, and a resume cuts it off before appending', () => {
    const file = path.join(dir, 'log.jsonl');
    fs.writeFileSync(file, '{"type":"step","loss":1}\n{"type":"step","loss":0.5}\n{"type":"ste');
    const read = readJsonl(file);
    expect(read.records.map((r) => r['loss'])).toEqual([1, 0.5]);
    expect(read.truncatedTail).toBe('{"type":"ste');
    const log = JsonlLogger.open(file, { resume: true });
    expect(log.repairedBytes).toBe('{"type":"ste'.length);
    log.log({ type: 'step', loss: 0.25 });
    log.close();
    const after = readJsonl(file);
    expect(after.truncatedTail).toBeUndefined();
    expect(after.records.map((r) => r['loss'])).toEqual([1, 0.5, 0.25]);
  });

  it('reports damage in the middle of the log with the line number', () => {
    expect(() => parseJsonl('{"type":"a"}\n{oops\n{"type":"b"}\n', 'x.jsonl')).toThrow(JsonlError);
    expect(() => parseJsonl('{"type":"a"}\n{oops\n{"type":"b"}\n', 'x.jsonl')).toThrow(/x\.jsonl, line 2/);
    expect(() => parseJsonl('[1,2]\n')).toThrow(/string "type"/);
  });
});

describe('resolved configuration', () => {
  it('writes JSON and YAML that describe the same data', async () => {
    const config = {
      program: 'mednvc.nvc',
      variant: 'demo',
      stages: [{ name: 'pretrain', epochs: 2, lr: 1.5e-4 }],
      seed: 7,
      note: 'a: b',
    };
    const saved = await saveResolvedConfig(dir, config);
    expect(JSON.parse(fs.readFileSync(saved.jsonPath, 'utf8'))).toEqual(config);
    expect(parseYaml(fs.readFileSync(saved.yamlPath, 'utf8'))).toEqual(config);
    await expect(saveResolvedConfig(dir, { lr: Number.NaN })).rejects.toThrow(/config\.lr is NaN/);
  });
});

class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('progress display', () => {
  it('writes plain periodic lines without control characters when not a TTY', () => {
    const out = new Capture();
    let t = 0;
    const p = createProgressDisplay({ stream: out, intervalMs: 1000, now: () => t });
    expect(p.mode).toBe('plain');
    p.startStage({ stage: 'finetune', epochs: 2, stepsPerEpoch: 10 });
    for (let epoch = 1; epoch <= 2; epoch++) {
      for (let step = 1; step <= 10; step++) {
        t += 300;
        p.update({ epoch, step, loss: 1 / step, lr: 1e-3 });
      }
      p.endEpoch({ epoch, trainLoss: 0.3, metrics: { auc: 0.9, accuracy: Number.NaN } });
    }
    p.message('loaded 12 tensors\n\u001b[31mred\u001b[0m');
    p.endStage();
    // eslint-disable-next-line no-control-regex
    expect(out.text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    const lines = out.text.trimEnd().split('\n');
    const stepLines = lines.filter((l) => / step \d+\/10 /.test(l));
    // Every ~1 s of 300 ms steps (every 4th step) plus each epoch's last step: 2 + 1 per epoch.
    expect(stepLines.length).toBeGreaterThanOrEqual(4);
    expect(stepLines.length).toBeLessThanOrEqual(8);
    expect(lines).toContain('[finetune] epoch 2/2 step 10/10 loss 0.1000 lr 1.00e-3 ETA 0s');
    expect(lines).toContain('[finetune] epoch 1/2 done  train loss 0.3000  val auc 0.9000  val accuracy n/a');
    expect(lines.some((l) => l.startsWith('[finetune] finished in'))).toBe(true);
    // ETA after epoch 1: 10 steps in 3 s, 10 left -> 3 s.
    expect(lines).toContain('[finetune] epoch 1/2 step 10/10 loss 0.1000 lr 1.00e-3 ETA 3s');
  });

  it('starts the ETA clock at the resumed position mid-epoch', () => {
    const out = new Capture();
    let t = 0;
    const p = createProgressDisplay({ stream: out, intervalMs: 0, now: () => t });
    p.startStage({ stage: 'ft', epochs: 3, stepsPerEpoch: 10, epoch: 2, step: 5 });
    t += 9000;
    p.update({ epoch: 2, step: 6, loss: 0.5, lr: 0.1 });
    t += 2000;
    p.update({ epoch: 2, step: 7, loss: 0.5, lr: 0.1 });
    p.endStage();
    const lines = out.text.split('\n');
    expect(lines[0]).toBe('[ft] 3 epochs x 10 steps, resuming at epoch 2 step 5');
    // The first step after the resume pays the warm-up: no estimate yet.
    expect(lines[1]).toBe('[ft] epoch 2/3 step 6/10 loss 0.5000 lr 1.00e-1 ETA --');
    // one steady step in 2 s, 13 steps left -> 26 s
    expect(lines[2]).toBe('[ft] epoch 2/3 step 7/10 loss 0.5000 lr 1.00e-1 ETA 26s');
  });

  it("estimates from steady steps, leaving out the first step's warm-up", () => {
    // The demo's image stage: 40 steps; the first took 30 s (kernel compilation), the rest 0.9 s.
    const out = new Capture();
    let t = 0;
    const p = createProgressDisplay({ stream: out, intervalMs: 0, now: () => t });
    p.startStage({ stage: 'images', epochs: 4, stepsPerEpoch: 10 });
    const etas: string[] = [];
    for (let step = 1; step <= 40; step++) {
      t += step === 1 ? 30_000 : 900;
      p.update({ epoch: Math.ceil(step / 10), step: ((step - 1) % 10) + 1, loss: 1, lr: 1 });
      etas.push(/ETA (\S+)$/.exec(out.text.trimEnd().split('\n').at(-1)!)![1]!);
    }
    p.endStage();
    expect(etas[0]).toBe('--');
    // After step 2: 38 steps left at 0.9 s = 34.2 s; after step 11: 29 x 0.9 = 26.1 s.
    expect(etas[1]).toBe('34s');
    expect(etas[10]).toBe('26s');
    expect(etas[39]).toBe('0s');
    // The same clock drives the bar on a terminal.
    const tty = new PassThrough() as PassThrough & { isTTY: boolean; columns: number };
    tty.isTTY = true;
    tty.columns = 160;
    let text = '';
    tty.on('data', (c: Buffer) => (text += c.toString()));
    t = 0;
    const bar = createProgressDisplay({ stream: tty, now: () => t });
    bar.startStage({ stage: 'images', epochs: 4, stepsPerEpoch: 10 });
    t += 30_000;
    bar.update({ epoch: 1, step: 1, loss: 1, lr: 1 });
    t += 900;
    bar.update({ epoch: 1, step: 2, loss: 1, lr: 1 });
    bar.endStage();
    expect(text).toContain('step 2/10 | loss 1.000 | lr 1.00e+0 | ETA 34s');
  });

  it('never throws when the pipe is closed (EPIPE) or write throws', () => {
    const broken = new Writable({
      write(_chunk, _enc, done) {
        const e = new Error('write EPIPE') as NodeJS.ErrnoException;
        e.code = 'EPIPE';
        done(e);
      },
    });
    const p = createProgressDisplay({ stream: broken, intervalMs: 0 });
    expect(() => {
      p.startStage({ stage: 's', epochs: 1, stepsPerEpoch: 3 });
      for (let step = 1; step <= 3; step++) p.update({ epoch: 1, step, loss: 1, lr: 1 });
      p.endEpoch({ epoch: 1 });
      p.endStage();
    }).not.toThrow();
    const throwing: ProgressStream = {
      isTTY: true,
      write: () => {
        throw new Error('EPIPE');
      },
    };
    const q = createProgressDisplay({ stream: throwing });
    expect(q.mode).toBe('tty');
    expect(() => {
      q.startStage({ stage: 's', epochs: 1, stepsPerEpoch: 3 });
      q.update({ epoch: 1, step: 1, loss: 1, lr: 1 });
      q.message('hello');
      q.endStage();
    }).not.toThrow();
  });

  it('draws a bar with epoch, step, loss, lr and ETA on a TTY, resumed mid-epoch', () => {
    const out = new PassThrough() as PassThrough & { isTTY: boolean; columns: number };
    out.isTTY = true;
    out.columns = 160;
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const p = createProgressDisplay({ stream: out });
    p.startStage({ stage: 'pretrain', epochs: 4, stepsPerEpoch: 5, epoch: 2, step: 3 });
    p.update({ epoch: 2, step: 4, loss: 0.1234, lr: 2e-4 });
    p.endEpoch({ epoch: 2, trainLoss: 0.2 });
    p.endStage();
    expect(text).toContain('pretrain');
    expect(text).toContain('epoch 2/4 step 4/5');
    expect(text).toContain('loss 0.1234');
    expect(text).toContain('lr 2.00e-4');
    expect(text).toContain('ETA');
    expect(text).toContain('[pretrain] epoch 2/4 done  train loss 0.2000');
  });

  it('a child whose stdout pipe is closed by the reader keeps running and exits cleanly', async () => {
    const progressModule = fileURLToPath(new URL('../../runtime/run/progress.ts', import.meta.url));
    const script = path.join(dir, 'child.mts');
    fs.writeFileSync(
      script,
      `import { createProgressDisplay } from ${JSON.stringify(progressModule)};\n` +
        `const p = createProgressDisplay({ intervalMs: 0 });\n` +
        `p.startStage({ stage: 's', epochs: 1, stepsPerEpoch: 3000 });\n` +
        `for (let step = 1; step <= 3000; step++) { p.update({ epoch: 1, step, loss: 1, lr: 1 }); if (step % ` +
        `100 === 0) await new Promise((r) => setTimeout(r, 2)); }\n` +
        `p.endStage();\n` +
        `process.stderr.write('trained to the end\\n');\n`,
    );
    const result = await new Promise<{ code: number | null; stderr: string; first: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script], {
        stdio: ['ignore', 'pipe', 'pipe'],
        cwd: path.dirname(progressModule),
      });
      let stderr = '';
      let first = '';
      child.stdout.once('data', (c: Buffer) => {
        first = c.toString().split('\n')[0]!;
        child.stdout.destroy();
      });
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, stderr, first }));
    });
    expect(result.first).toBe('[s] 1 epochs x 3000 steps');
    expect(result.stderr).toContain('trained to the end');
    expect(result.code).toBe(0);
  });

  it('formats durations', () => {
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(3 * 3600 + 61)).toBe('3h01m');
    expect(formatDuration(Number.NaN)).toBe('--');
  });
});
