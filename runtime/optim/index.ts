/** Optimizers, parameter groups and learning-rate schedules (see each file's header). */
export {
  SlotOptimizer,
  isNoDecay,
  type NoDecayRule,
  type Optimizer,
  type OptimizerOptions,
  type OptimizerState,
  type ParameterGroups,
} from './optimizer.js';
export { Lion, type LionOptions } from './lion.js';
export { AdamW, type AdamWOptions } from './adamw.js';
export {
  buildSchedule,
  ScheduleError,
  type PhaseSpec,
  type Schedule,
  type ScheduleContext,
  type ScheduleSpec,
} from './schedule.js';
export { decodeOptimizerState, encodeOptimizerState, readOptimizerState, writeOptimizerState } from './state-io.js';
