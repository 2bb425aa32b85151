/**
 * Test helper: selects the backend a test file runs on, before any tensor exists (the wasm
 * detached-buffer trap), and registers the wasm training kernels through initBackend.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../runtime/backend.js';

export async function useTestBackend(name: BackendName): Promise<void> {
  await initBackend({ backend: name, quiet: true });
  await tf.ready();
  if (tf.getBackend() !== name) throw new Error(`test wanted backend ${name}, got ${tf.getBackend()}`);
}
