/**
 * The fuzz bench's campaign state (bench/fuzz-state.ts): a campaign stopped at any moment and
 * resumed measures exactly the inputs it had not, so its results are those of one uninterrupted
 * run; a torn last line (a SIGKILL mid-write) is cut off and its input run again; a state file is
 * never continued with another seed or corpus.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { driveInput, loadCorpus, makeInput } from '../../bench/fuzz-inputs.js';
import {
  corpusDigest,
  type Measured,
  offendersOf,
  openCampaign,
  pendingInputs,
  StateWriter,
} from '../../bench/fuzz-state.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-fuzz-state-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const corpus = loadCorpus();
const SEED = 5;

/** Input `index` run the way a worker runs it (costs left out: they are not part of a result). */
async function measure(index: number): Promise<Measured> {
  const input = makeInput(corpus, SEED, index);
  const outcome = await driveInput(input);
  return {
    index,
    cpuMs: 0,
    wallMs: 0,
    growthMb: 0,
    strategies: input.strategies,
    reached: outcome.reached,
    ...(outcome.crash !== undefined ? { crash: outcome.crash } : {}),
  };
}

describe('fuzz campaign state', () => {
  it('a run stopped mid-write and resumed gives the results of one uninterrupted run', async () => {
    const file = path.join(dir, 'campaign.jsonl');
    const uninterrupted: Measured[] = [];
    for (let i = 0; i < 12; i++) uninterrupted.push(await measure(i));

    // First run: inputs 0-4, then killed while writing input 5's line.
    let campaign = openCampaign(file, SEED, corpus);
    expect(pendingInputs(campaign, 0, 12)).toEqual([...Array(12).keys()]);
    let writer = new StateWriter(file, campaign);
    for (const i of pendingInputs(campaign, 0, 12).slice(0, 5)) writer.measured(await measure(i));
    writer.runWall('run-1', 12);
    writer.flush();
    const torn = JSON.stringify({ measured: await measure(5) });
    fs.appendFileSync(file, torn.slice(0, torn.length >> 1));

    // Second run: the torn line is cut off and input 5 is run again, with 6-11.
    campaign = openCampaign(file, SEED, corpus);
    expect(fs.readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
    expect(pendingInputs(campaign, 0, 12)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    writer = new StateWriter(file, campaign);
    for (const i of pendingInputs(campaign, 0, 12)) writer.measured(await measure(i));
    writer.runWall('run-2', 30);
    writer.flush();

    const resumed = openCampaign(file, SEED, corpus);
    expect(pendingInputs(resumed, 0, 12)).toEqual([]);
    expect([...resumed.measured.values()].sort((a, b) => a.index - b.index)).toEqual(uninterrupted);
    expect([...resumed.runWallS.values()]).toEqual([12, 30]);
    // Every line is whole JSON: one header, 12 inputs, 2 run figures.
    expect(
      fs
        .readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toHaveLength(15);
  }, 300_000);

  it('inputs a worker did not survive are offenders, run again only when asked', () => {
    const file = path.join(dir, 'lost.jsonl');
    const campaign = openCampaign(file, SEED, corpus);
    const writer = new StateWriter(file, campaign);
    writer.lost({ index: 3, kind: 'over-time', detail: 'killed after 30 s of CPU' });
    writer.measured({ index: 4, cpuMs: 12_000, wallMs: 0, growthMb: 0, strategies: [], reached: ['check'] });
    writer.flush();
    const reopened = openCampaign(file, SEED, corpus);
    expect(pendingInputs(reopened, 2, 4)).toEqual([2, 5]);
    expect(offendersOf(reopened, 10_000, 1024)).toEqual([
      { index: 3, kind: 'over-time', detail: 'killed after 30 s of CPU' },
      { index: 4, kind: 'over-time', detail: '12000 ms CPU' },
    ]);
    // --retry-lost: input 3 runs again and its result replaces the loss.
    expect(pendingInputs(reopened, 2, 4, true)).toEqual([2, 3, 5]);
    const retry = new StateWriter(file, reopened);
    retry.measured({ index: 3, cpuMs: 5, wallMs: 0, growthMb: 0, strategies: [], reached: ['check'] });
    retry.flush();
    const retried = openCampaign(file, SEED, corpus);
    expect(pendingInputs(retried, 2, 4, true)).toEqual([2, 5]);
    expect(offendersOf(retried, 10_000, 1024).map((o) => o.index)).toEqual([4]);
  });

  it('refuses to continue a state file with another seed or another corpus', () => {
    const file = path.join(dir, 'other.jsonl');
    openCampaign(file, SEED, corpus);
    expect(() => openCampaign(file, SEED + 1, corpus)).toThrow(
      `holds seed ${SEED} over corpus ${corpusDigest(corpus)} (${corpus.length} files); this run is seed ${SEED + 1}`,
    );
    const changed = [...corpus.slice(1), { path: 'test/new.nvc', text: 'model M {}' }];
    expect(() => openCampaign(file, SEED, changed)).toThrow('input numbers would name other texts');
  });
});
