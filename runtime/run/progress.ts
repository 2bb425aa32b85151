/**
 * Training progress on the console, one display per stage.
 * In: stage starts, step updates (epoch, step, loss, lr) and epoch summaries from the trainer.
 * Out: on a terminal, a live cli-progress bar over the whole stage (epoch, step/steps, loss,
 * lr, ETA) with epoch summaries printed above it; otherwise (pipe, file, CI) plain text lines
 * at most every `intervalMs`, plus one per epoch end, with no control characters. Holds
 * afterwards: the display never throws into the training loop: a closed pipe (EPIPE) or any
 * other stream error silently switches it off; a stage resumed mid-epoch starts the bar and
 * the ETA clock at the resumed position, and the ETA leaves out the first step's warm-up. The
 * error listener stays on the stream for the display's lifetime, because a write's EPIPE
 * arrives asynchronously, possibly after the last call. On a TTY the bar redraws on a timer
 * until `endStage()`: call it in a `finally`.
 */
import cliProgress from 'cli-progress';

export interface StageStart {
  readonly stage: string;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  /** 1-based epoch the stage (re)starts in; default 1. */
  readonly epoch?: number;
  /** Steps of that epoch already done (resume mid-epoch); default 0. */
  readonly step?: number;
}

export interface StepUpdate {
  /** 1-based epoch. */
  readonly epoch: number;
  /** Steps done in this epoch, 1..stepsPerEpoch. */
  readonly step: number;
  readonly loss?: number;
  readonly lr?: number;
}

export interface EpochSummary {
  readonly epoch: number;
  readonly trainLoss?: number;
  /** Validation metrics by name; null/NaN shown as n/a. */
  readonly metrics?: Readonly<Record<string, number | null>>;
}

export interface ProgressDisplay {
  readonly mode: 'tty' | 'plain';
  startStage(start: StageStart): void;
  update(update: StepUpdate): void;
  endEpoch(summary: EpochSummary): void;
  /** A free-form message (weight hand-over table, warnings) that does not disturb the bar. */
  message(text: string): void;
  endStage(): void;
}

/** The subset of a Node writable stream the display uses. */
export interface ProgressStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
  on?(event: 'error', listener: (error: Error) => void): unknown;
  off?(event: 'error', listener: (error: Error) => void): unknown;
}

export interface ProgressOptions {
  /** Default: process.stdout. */
  readonly stream?: ProgressStream;
  /** Force a mode; default: a bar exactly when the stream is a TTY. */
  readonly tty?: boolean;
  /** Plain mode: minimum time between step lines; default 10 s. Epoch ends always print. */
  readonly intervalMs?: number;
  /** Clock in milliseconds (tests). */
  readonly now?: () => number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

/**
 * Time left in a stage from its steady steps. The first step after a (re)start pays for
 * warm-up (kernel compilation, weight upload, first allocations) and on the demo took as long as
 * the next forty, so an estimate that counts it runs far too long (6m26s for a stage that took
 * 1m06s): the clock starts when that first step ends, and until a second step has been timed
 * there is no estimate (NaN).
 */
export class StageEta {
  private firstDone: { step: number; time: number } | undefined;

  constructor(
    private readonly totalSteps: number,
    private readonly startStep: number,
  ) {}

  /** Records that global step `done` finished at `time` (ms); returns the seconds left, or NaN. */
  observe(done: number, time: number): number {
    if (done <= this.startStep) return Number.NaN;
    if (!this.firstDone) {
      this.firstDone = { step: done, time };
      return Number.NaN;
    }
    const steps = done - this.firstDone.step;
    const seconds = (time - this.firstDone.time) / 1000;
    if (steps <= 0 || seconds <= 0) return Number.NaN;
    return Math.max(0, this.totalSteps - done) * (seconds / steps);
  }
}

/** One duration as every output shows it: `5m12s (312.2 s)`. */
export function formatWallTime(seconds: number): string {
  return Number.isFinite(seconds) && seconds >= 0 ? `${formatDuration(seconds)} (${seconds.toFixed(1)} s)` : '--';
}

function formatLoss(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? 'n/a' : x.toPrecision(4);
}

function formatLr(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? 'n/a' : x.toExponential(2);
}

/** Removes control characters (C0 except none, DEL, C1) so plain output stays plain. */
function plainText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

function formatSummary(stage: string, epochs: number, s: EpochSummary): string {
  const parts = [`[${stage}] epoch ${s.epoch}/${epochs} done`];
  if (s.trainLoss !== undefined) parts.push(`train loss ${formatLoss(s.trainLoss)}`);
  for (const [name, value] of Object.entries(s.metrics ?? {})) {
    parts.push(`val ${name} ${value === null || !Number.isFinite(value) ? 'n/a' : value.toFixed(4)}`);
  }
  return parts.join('  ');
}

export function createProgressDisplay(options: ProgressOptions = {}): ProgressDisplay {
  const stream: ProgressStream = options.stream ?? process.stdout;
  const tty = options.tty ?? stream.isTTY === true;
  return tty ? new BarDisplay(stream, options) : new PlainDisplay(stream, options);
}

/** Shared bookkeeping: stream error handling and stage position. */
abstract class BaseDisplay implements ProgressDisplay {
  abstract readonly mode: 'tty' | 'plain';
  protected disabled = false;
  protected stage: StageStart | undefined;
  private attached = false;
  private readonly onError = (): void => {
    this.disabled = true;
    this.onDisabled();
  };

  constructor(protected readonly stream: ProgressStream) {}

  /** Called once the stream has failed: stop timers that would keep writing. */
  protected onDisabled(): void {}

  /** Listens for stream errors from the first stage on; never detached (see the module comment). */
  protected attach(): void {
    if (this.attached) return;
    this.stream.on?.('error', this.onError);
    this.attached = true;
  }

  protected write(text: string): void {
    if (this.disabled) return;
    try {
      this.stream.write(text);
    } catch {
      this.disabled = true;
    }
  }

  protected globalStep(epoch: number, step: number): number {
    return (epoch - 1) * (this.stage?.stepsPerEpoch ?? 0) + step;
  }

  abstract startStage(start: StageStart): void;
  abstract update(update: StepUpdate): void;
  abstract endEpoch(summary: EpochSummary): void;
  abstract message(text: string): void;
  abstract endStage(): void;
}

class PlainDisplay extends BaseDisplay {
  readonly mode = 'plain' as const;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private startTime = 0;
  private startStep = 0;
  private eta = new StageEta(0, 0);
  private lastLine = Number.NEGATIVE_INFINITY;

  constructor(stream: ProgressStream, options: ProgressOptions) {
    super(stream);
    this.intervalMs = options.intervalMs ?? 10_000;
    this.now = options.now ?? (() => Date.now());
  }

  private line(text: string): void {
    this.write(`${plainText(text)}\n`);
  }

  startStage(start: StageStart): void {
    this.attach();
    this.stage = start;
    this.startTime = this.now();
    this.startStep = this.globalStep(start.epoch ?? 1, start.step ?? 0);
    this.eta = new StageEta(start.epochs * start.stepsPerEpoch, this.startStep);
    this.lastLine = Number.NEGATIVE_INFINITY;
    const resumed = this.startStep > 0 ? `, resuming at epoch ${start.epoch ?? 1} step ${start.step ?? 0}` : '';
    this.line(`[${start.stage}] ${start.epochs} epochs x ${start.stepsPerEpoch} steps${resumed}`);
  }

  update(u: StepUpdate): void {
    const stage = this.stage;
    if (!stage) return;
    const t = this.now();
    const eta = this.eta.observe(this.globalStep(u.epoch, u.step), t);
    const epochEnd = u.step >= stage.stepsPerEpoch;
    if (!epochEnd && t - this.lastLine < this.intervalMs) return;
    this.lastLine = t;
    this.line(
      `[${stage.stage}] epoch ${u.epoch}/${stage.epochs} step ${u.step}/${stage.stepsPerEpoch} ` +
        `loss ${formatLoss(u.loss)} lr ${formatLr(u.lr)} ETA ${formatDuration(eta)}`,
    );
  }

  endEpoch(s: EpochSummary): void {
    if (this.stage) this.line(formatSummary(this.stage.stage, this.stage.epochs, s));
  }

  message(text: string): void {
    for (const l of text.split('\n')) this.line(l);
  }

  endStage(): void {
    if (this.stage)
      this.line(`[${this.stage.stage}] finished in ${formatDuration((this.now() - this.startTime) / 1000)}`);
    this.stage = undefined;
  }
}

class BarDisplay extends BaseDisplay {
  readonly mode = 'tty' as const;
  private multi: cliProgress.MultiBar | undefined;
  private bar: cliProgress.SingleBar | undefined;
  private eta = new StageEta(0, 0);
  private readonly now: () => number;

  constructor(stream: ProgressStream, options: ProgressOptions) {
    super(stream);
    this.now = options.now ?? (() => Date.now());
  }

  protected override onDisabled(): void {
    const multi = this.multi;
    this.multi = undefined;
    this.bar = undefined;
    try {
      multi?.stop();
    } catch {
      // the stream is already gone
    }
  }

  private guard(action: () => void): void {
    if (this.disabled) return;
    try {
      action();
    } catch {
      this.disabled = true;
    }
  }

  startStage(start: StageStart): void {
    this.endStage();
    this.attach();
    this.stage = start;
    this.guard(() => {
      this.multi = new cliProgress.MultiBar(
        {
          stream: this.stream as unknown as NodeJS.WritableStream,
          format:
            '{stage} |{bar}| epoch {epoch}/{epochs} step {step}/{steps} | loss {loss} | lr {lr} | ETA {eta_steady}',
          barsize: 24,
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
          fps: 5,
          forceRedraw: false,
          emptyOnZero: true,
        },
        cliProgress.Presets.shades_classic,
      );
      const total = start.epochs * start.stepsPerEpoch;
      const epoch = start.epoch ?? 1;
      const step = start.step ?? 0;
      this.eta = new StageEta(total, this.globalStep(epoch, step));
      this.bar = this.multi.create(total, this.globalStep(epoch, step), {
        eta_steady: formatDuration(Number.NaN),
        stage: start.stage,
        epoch,
        epochs: start.epochs,
        step,
        steps: start.stepsPerEpoch,
        loss: 'n/a',
        lr: 'n/a',
      });
    });
  }

  update(u: StepUpdate): void {
    this.guard(() => {
      const done = this.globalStep(u.epoch, u.step);
      this.bar?.update(done, {
        eta_steady: formatDuration(this.eta.observe(done, this.now())),
        epoch: u.epoch,
        step: u.step,
        loss: formatLoss(u.loss),
        lr: formatLr(u.lr),
      });
    });
  }

  endEpoch(s: EpochSummary): void {
    if (this.stage) this.message(formatSummary(this.stage.stage, this.stage.epochs, s));
  }

  message(text: string): void {
    this.guard(() => {
      if (this.multi) {
        this.multi.log(`${text}\n`);
        // Flush now: cli-progress only prints logged lines on its next redraw, and none comes after stop().
        this.multi.update();
      } else this.stream.write(`${text}\n`);
    });
  }

  endStage(): void {
    this.guard(() => this.multi?.stop());
    this.multi = undefined;
    this.bar = undefined;
    this.stage = undefined;
  }
}
