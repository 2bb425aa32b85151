/**
 * The command lines nvcc starts the torch engine with: one process (`python <pkg>/train.py`),
 * one machine with several processes (torchrun standalone through `<pkg>/nvcc_torchrun.py`),
 * several machines (c10d rendezvous at the given endpoint, the run folder's name as rendezvous
 * id), and the refusals (several machines without an endpoint, no processes).
 */
import { describe, expect, it } from 'vitest';
import { TrainingError } from '../../runtime/train/common.js';
import { torchLaunchCommand } from '../../runtime/train/torch-engine.js';

describe('torchLaunchCommand', () => {
  it('starts one process with python <pkg>/train.py', () => {
    const c = torchLaunchCommand({ packageDir: '/b/mednvc-torch', runDir: '/r/run1', python: 'py', device: 'cpu' });
    expect(c).toEqual({
      command: 'py',
      args: ['/b/mednvc-torch/train.py', '--run', '/r/run1', '--data', '/b/mednvc-torch/data', '--device', 'cpu'],
      cwd: '/b/mednvc-torch',
    });
  });

  it('runs torchrun standalone for several processes and c10d for several machines', () => {
    const one = torchLaunchCommand({ packageDir: '/b/p', runDir: '/r/x', python: 'py', nproc: 8, resume: true });
    expect(one.args).toEqual([
      '/b/p/nvcc_torchrun.py',
      '--nnodes',
      '1',
      '--nproc_per_node',
      '8',
      '--standalone',
      '/b/p/train.py',
      '--run',
      '/r/x',
      '--data',
      '/b/p/data',
      '--resume',
    ]);
    const many = torchLaunchCommand({
      packageDir: '/b/p',
      runDir: '/r/study',
      python: 'py',
      nproc: 8,
      nnodes: 4,
      rdzvEndpoint: 'node0:29500',
      trainerArgs: ['--compile'],
    });
    expect(many.args.slice(0, 12)).toEqual([
      '/b/p/nvcc_torchrun.py',
      '--nnodes',
      '4',
      '--nproc_per_node',
      '8',
      '--rdzv_backend',
      'c10d',
      '--rdzv_endpoint',
      'node0:29500',
      '--rdzv_id',
      'study',
      '/b/p/train.py',
    ]);
    expect(many.args.at(-1)).toBe('--compile');
  });

  it('refuses several machines without a rendezvous endpoint, and no processes', () => {
    expect(() => torchLaunchCommand({ packageDir: '/b/p', runDir: '/r', nnodes: 2 })).toThrow(
      /--nnodes > 1 needs --rdzv-endpoint/,
    );
    expect(() => torchLaunchCommand({ packageDir: '/b/p', runDir: '/r', nnodes: 0 })).toThrow(TrainingError);
    expect(() => torchLaunchCommand({ packageDir: '/b/p', runDir: '/r', nproc: 0 })).toThrow(/--nproc/);
  });
});
