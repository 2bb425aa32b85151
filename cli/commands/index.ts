/**
 * The command-line surface: every subcommand with its arguments, options and help text.
 * In: the commander program. Out: the program with all subcommands declared.
 * Holds afterwards: nothing but commander is loaded, and when the first argument names a
 * command only that command is declared. Each action imports its implementation
 * (cli/commands/<name>.ts, exporting `<name>Command(...arguments, options, setExit)`) when
 * the command runs, so `nvcc --help` loads no compiler, and `nvcc build` no tfjs, sharp, vega or
 * elkjs (test/cli/lazy-commands.test.ts watches the module loads).
 */
import type { Command } from 'commander';

export type SetExit = (code: number) => void;

/** An implementation: the command's arguments, its options object, then setExit. */
type CommandImpl = (...args: never[]) => Promise<void>;

/**
 * A commander action that imports the implementation on first use. Commander calls actions
 * with the declared arguments, the options object and the Command itself; the Command is
 * dropped and setExit appended.
 */
function lazy(setExit: SetExit, load: () => Promise<CommandImpl>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const run = (await load()) as unknown as (...a: unknown[]) => Promise<void>;
    await run(...args.slice(0, -1), setExit);
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * `<file>` with `--variant`, `--set` and `--config`: the program as `nvcc train` would run it.
 * `example` is the override shown in `--set`'s help.
 */
function programCommand(program: Command, name: string, description: string, example = 'finetune.epochs=3'): Command {
  return program
    .command(name)
    .description(description)
    .argument('<file>', '.nvc file')
    .option('--variant <name>', 'apply a variant declared in the file')
    .option('--set <path=value>', `override a setting, e.g. ${example} (repeatable)`, collect, [])
    .option('--config <file>', 'YAML file of overrides (nested mappings are dotted paths)');
}

const BACKEND_HELP = 'auto, tensorflow, wasm or cpu (default: NVCC_BACKEND, else auto)';
const THREADS_HELP = 'threads for the training steps on wasm/cpu (default: NVCC_THREADS, else every core)';

/** Declares one command (arguments, options, help text, lazy action) on the program. */
type Declare = (program: Command, setExit: SetExit) => void;

/** In the order `nvcc --help` lists them. */
const DECLARATIONS: Readonly<Record<string, Declare>> = {
  check: (program, setExit) =>
    program
      .command('check')
      .description('check a .nvc program: syntax, names, shapes, arguments, stages, data')
      .argument('<file>', '.nvc file')
      .option('--variant <name>', 'apply a variant declared in the file')
      .option('--format <format>', 'pretty or json', 'pretty')
      .option('--target <target>', 'also check what a build target can express: tfjs (default) or torch', 'tfjs')
      .option('--data', 'validate the data as train does (default: when they are local files and small)')
      .option('--no-data', 'do not read the data')
      .action(lazy(setExit, async () => (await import('./check.js')).checkCommand)),

  summary: (program, setExit) =>
    program
      .command('summary')
      .description('parameter and MAC table of the models in a .nvc program')
      .argument('<file>', '.nvc file')
      .option('--variant <name>', 'apply a variant declared in the file')
      .option('--set <path=value>', 'override a tunable value, e.g. finetune.batch=12 (repeatable)', collect, [])
      .option('--config <file>', 'overrides from a YAML or JSON file (paths or nested mappings)')
      .option('--model <name>', 'a model declaration, a constant holding a model, or a stage name')
      .option('--depth <n>', 'deepest layer path shown', '2')
      .option('--dims <list>', 'values of symbolic dims, e.g. B=1,H=224,W=224 (default B=1, others 224)')
      .option('--format <format>', 'pretty or json', 'pretty')
      .action(lazy(setExit, async () => (await import('./summary.js')).summaryCommand)),

  build: (program, setExit) =>
    program
      .command('build')
      .description('compile a .nvc program to typed TypeScript model code, a training entry point and a manifest')
      .argument('<file>', '.nvc file')
      .option('--variant <name>', 'apply a variant declared in the file')
      .option('--out <dir>', 'output folder (default build/<file>[-<variant>])')
      .option(
        '--set <path=value>',
        'override a tunable value, e.g. finetune.optimizer.lr=1e-5 (repeatable)',
        collect,
        [],
      )
      .option('--config <file>', 'overrides from a YAML or JSON file (paths or nested mappings)')
      .option('--emit <stage>', 'print a stage instead of building: ast, ir or ts')
      .option('--force', 'rebuild even when the cached build is up to date')
      .option('--target <target>', 'tfjs (default: TypeScript) or torch (a Python package)', 'tfjs')
      .action(lazy(setExit, async () => (await import('./build.js')).buildCommand)),

  diagram: (program, setExit) =>
    program
      .command('diagram')
      .description('draw a model, a block or the staged training as SVG, PNG, PDF, DOT or Mermaid')
      .argument('<file>', '.nvc file')
      .option('--variant <name>', 'apply a variant declared in the file')
      .option('--model <name>', 'a model declaration, a constant holding a model, or its type name')
      .option('--block <name>', 'draw one block type as the model uses it (first instance)')
      .option('--stage <name>', "a train stage's model, with its masked and frozen layers marked")
      .option('--training', 'the whole training program: stages side by side, hand-over, masks, losses')
      .option('--depth <n>', 'levels of blocks drawn expanded (0: every block call is one node)', '0')
      .option('--direction <dir>', 'LR (left to right) or TB (top to bottom)', 'TB')
      .option('--theme <theme>', 'paper or dark', 'paper')
      .option('--dims <list>', 'values of symbolic dims for concrete shapes, e.g. H=224,W=224')
      .option('--style <style>', 'full, or paper: compact boxes that say what each layer computes', 'full')
      .option('--aspect <ratio>', 'wrap a long figure to this width/height (default: 1.6 for LR; paper: 1.4 if needed)')
      .option('--format <format>', 'svg, png, pdf, dot or mermaid (default: from --out, else svg)')
      .option('--out <path>', 'output file (default: stdout)')
      .action(lazy(setExit, async () => (await import('./diagram.js')).diagramCommand)),

  diff: (program, setExit) =>
    program
      .command('diff')
      .description('structural and parameter diff of two programs or two variants, as text or a highlighted diagram')
      .argument('<a>', 'first .nvc file (before)')
      .argument('[b]', 'second .nvc file (after); default: the first file')
      .option('--variant <name>', 'variant applied to the first program')
      .option('--against <name>', 'variant applied to the second program')
      .option('--model <name>', 'compare and draw this model or stage only')
      .option('--stage <name>', "draw this stage's model")
      .option('--training', 'draw both trainings (stages, hand-over)')
      .option('--depth <n>', 'levels of blocks drawn expanded', '0')
      .option('--direction <dir>', 'LR or TB', 'TB')
      .option('--theme <theme>', 'paper or dark', 'paper')
      .option('--dims <list>', 'values of symbolic dims, e.g. H=224,W=224')
      .option('--format <format>', 'text (default), svg, png, pdf, dot or mermaid')
      .option('--out <path>', 'output file (default: stdout)')
      .action(lazy(setExit, async () => (await import('./diff.js')).diffCommand)),

  demo: (program, setExit) =>
    program
      .command('demo')
      .description('build and train the MED-NVC demo profile on the built-in synthetic cohort')
      .option('--backend <name>', BACKEND_HELP)
      .option('--out <dir>', 'run folder (default runs/mednvc-demo-<time>)')
      .option('--quiet', 'no progress display')
      .option('--threads <n>', THREADS_HELP)
      .action(lazy(setExit, async () => (await import('./demo.js')).demoCommand)),

  fmt: (program, setExit) =>
    program
      .command('fmt')
      .description('lay out .nvc files in the one canonical layout (files, folders, or - for stdin)')
      .argument('<paths...>', '.nvc files or folders')
      .option('--check', 'write nothing; list the files that are not formatted and exit 1 if any')
      .action(lazy(setExit, async () => (await import('./fmt.js')).fmtCommand)),

  lsp: (program) =>
    program
      .command('lsp')
      .description('the language server for editors (Language Server Protocol over stdin/stdout)')
      .option('--stdio', 'talk over stdin/stdout (the default and only transport)')
      .action(async () => {
        const { startServer } = await import('../../lsp/server.js');
        startServer();
      }),

  synth: (program, setExit) =>
    program
      .command('synth')
      .description('write a built-in synthetic dataset (pji: lab table + radiograph-like images) to a folder')
      .argument('<name>', 'which dataset: pji')
      .requiredOption('--out <dir>', 'folder to write (created; must be empty if it exists)')
      .option('--patients <n>', 'number of patients', '489')
      .option('--seed <s>', 'random seed', '7')
      .option('--size <px>', 'image side in pixels', '224')
      .action(lazy(setExit, async () => (await import('./synth.js')).synthCommand)),

  schedule: (program, setExit) =>
    programCommand(
      program,
      'schedule',
      "preview the training plan: each stage's learning rate over its epochs, what it masks, freezes and hands over",
    )
      .option('--format <format>', 'text, csv or svg (default: from --out, else text)')
      .option('--points <n>', 'samples per epoch for csv and svg', '20')
      .option('--log', 'logarithmic learning-rate axis (svg)')
      .option('--out <file>', 'write to a file instead of standard output')
      .action(lazy(setExit, async () => (await import('./schedule.js')).scheduleCommand)),

  'preview-mask': (program, setExit) =>
    programCommand(
      program,
      'preview-mask',
      "draw the first samples of a masked stage's first training batch with the patches its mask removes",
      'pretrain.mask.ratio=0.75',
    )
      .option('--stage <name>', 'the masked stage (default: the first one)')
      .option('--count <n>', 'how many samples', '8')
      .option('--scale <k>', 'pixels per image pixel (default: cells of at least 128 px)')
      .option('--out <file>', 'the PNG to write')
      .action(lazy(setExit, async () => (await import('./preview-mask.js')).previewMaskCommand)),

  train: (program, setExit) =>
    programCommand(program, 'train', 'build a .nvc program and run its train declaration stage by stage')
      .option('--backend <name>', BACKEND_HELP)
      .option('--out <dir>', 'run folder (default runs/<file>-<variant>-<time>)')
      .option('--resume <dir>', 'continue the run in this folder from its newest checkpoint')
      .option('--seed <n>', "seed of every random stream (default: the program's seed)")
      .option('--quiet', 'no progress display')
      .option('--threads <n>', THREADS_HELP)
      .option('--engine <name>', 'tfjs (default: embedded, no Python) or torch (PyTorch, GPUs, torchrun)')
      .option(
        '--init <stage=file>',
        'start a stage (or STAGE.PATH, a module of its model) from an official ConvNeXt-V2 or FCMAE ' +
          'checkpoint in safetensors (repeatable; docs/torch-target.md)',
        collect,
        [],
      )
      .option('--nproc <n>', 'torch engine: processes (GPUs) on this machine (default 1)')
      .option('--nnodes <n>', 'torch engine: machines taking part (default 1; needs --rdzv-endpoint)')
      .option('--rdzv-endpoint <host:port>', 'torch engine: rendezvous of the machines (one of them)')
      .option('--device <name>', 'torch engine: cuda, cpu or auto (default auto)')
      .option('--python <path>', 'torch engine: Python with PyTorch (default: NVCC_PYTHON, else python3)')
      .action(lazy(setExit, async () => (await import('./train.js')).trainCommand)),

  eval: (program, setExit) =>
    program
      .command('eval')
      .description("score a run's weights (final, a checkpoint or a weights file) on a split")
      .argument('<run>', 'run folder, RUN/checkpoints/ckpt-N, or RUN/stages/<stage>/*.safetensors')
      .option('--split <name>', 'test or val', 'test')
      .option('--stage <name>', 'stage to score (default: the last supervised stage)')
      .option('--backend <name>', 'auto, tensorflow, wasm or cpu')
      .option('--format <format>', 'pretty or json', 'pretty')
      .action(lazy(setExit, async () => (await import('./eval.js')).evalCommand)),

  export: (program, setExit) =>
    program
      .command('export')
      .description(
        "write a run's trained weights as the official PyTorch state dict (--format torch), or the run as a " +
          'static web page that scores a patient in the browser (--web OUT)',
      )
      .argument('<run>', 'run folder (training finished)')
      .option('--format <format>', 'torch: the official PyTorch state dict (ConvNeXt-V2 names)')
      .option(
        '--web <dir>',
        'write a self-contained page to this folder: 14 lab values and X-rays in, the probability out, with the ' +
          "run's metrics and diagram; serve the folder with any static server (docs/web-export.md)",
      )
      .option('--force', '--web: replace the contents of a non-empty folder')
      .option(
        '--stage <name>',
        'stage to export (default: torch, the last stage; web, the last supervised stage, as predict uses)',
      )
      .option('--strip <path>', 'torch: a child whose parameters move to the root, e.g. enc (MED-NVC encoders)')
      .option('--out <file>', 'torch: output file (default RUN/export/<stage>.torch.safetensors)')
      .action(lazy(setExit, async () => (await import('./export.js')).exportCommand)),

  predict: (program, setExit) =>
    program
      .command('predict')
      .description('write per-patient probabilities for new patients with a trained run')
      .argument('<run>', 'run folder')
      .requiredOption('--table <csv>', 'lab table of the new patients (the label column is not needed)')
      .requiredOption('--images <dir>', 'folder of their images, named as the dataset declares')
      .requiredOption('--out <csv>', 'where to write the predictions')
      .option('--stage <name>', 'stage to use (default: the last supervised stage)')
      .option('--weights <path>', 'a weights file or checkpoint folder of the run (default: the final weights)')
      .option('--backend <name>', 'auto, tensorflow, wasm or cpu')
      .action(lazy(setExit, async () => (await import('./predict.js')).predictCommand)),

  compare: (program, setExit) =>
    program
      .command('compare')
      .description('finished runs side by side: overlaid training curves, test ROC curves, a table of the runs')
      .argument('<runs...>', 'two or more run folders')
      .option('--out <html>', 'where to write the page', 'compare.html')
      .option('--title <text>', 'the page title')
      .action(lazy(setExit, async () => (await import('./compare.js')).compareCommand)),

  report: (program, setExit) =>
    program
      .command('report')
      .description("write a finished run's report.html again from its folder (either engine)")
      .argument('<run>', 'run folder')
      .action(lazy(setExit, async () => (await import('./report.js')).reportCommand)),

  experiment: (program, setExit) =>
    program
      .command('experiment')
      .description('train several variants on the same splits and write a Table II-style comparison')
      .argument('<file>', '.nvc file')
      .requiredOption('--variants <list>', 'comma-separated variant names (`base` = the program as written)')
      .option('--folds <k>', 'k-fold cross-validation by patient instead of the declared split')
      .option('--out <dir>', 'folder for the runs and the tables (default experiments/<file>-<time>)')
      .option('--backend <name>', 'auto, tensorflow, wasm or cpu')
      .option('--seed <n>', "seed of every variant (default: the program's seed)")
      .option(
        '--reference <variant>',
        'the row every other row is compared with, patient by patient (default: the last variant)',
      )
      .option('--quiet', 'no progress bars (one line per variant)')
      .action(lazy(setExit, async () => (await import('./experiment.js')).experimentCommand)),
};

/**
 * Declares the commands on the program. When the first argument names a command, only that
 * one is declared (its options are most of commander's start-up work); otherwise (`--help`,
 * `help`, a typo that deserves a suggestion, no command) all of them.
 */
export function declareCommands(program: Command, setExit: SetExit, argv: readonly string[] = []): void {
  const first = argv[0];
  const only = first !== undefined && Object.hasOwn(DECLARATIONS, first) ? DECLARATIONS[first] : undefined;
  if (only) only(program, setExit);
  else for (const declare of Object.values(DECLARATIONS)) declare(program, setExit);
}
