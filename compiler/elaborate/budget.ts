/**
 * Elaboration pass: the budget (compiler/limits.ts) for steps, depth, list items and layers.
 * In: a request to spend (items, layers, a layer tree's children). Out: whether it fits; the
 * first crossed limit is reported once. Holds afterwards: once `el.budget.exhausted` is set,
 * every further evaluation yields ERROR without another diagnostic.
 */
import type { Span } from '../../dsl/span.js';
import { FIXED_LIMITS, raiseHint } from '../limits.js';
import { ERROR, type LayerInstance, type Value } from '../values.js';
import type { LayerStats } from './common.js';
import type { Elaborator } from './index.js';

/**
 * Reports the first crossed limit and stops elaboration: `eval` yields ERROR from now on.
 * `count` is the size asked for, for a list.
 */
export function exhaust(
  el: Elaborator,
  kind: 'ElaborationTooLong' | 'EvaluationTooDeep' | 'LayersTooDeep' | 'TooManyLayers' | 'ListTooLong',
  span: Span,
  count = 0,
): Value {
  const budget = el.budget;
  if (budget.exhausted) return ERROR;
  budget.exhausted = true;
  const { evalSteps, layers, listItems } = budget.limits;
  switch (kind) {
    case 'EvaluationTooDeep':
      el.reporter.error(kind, span, { limit: FIXED_LIMITS.evalDepth });
      break;
    case 'LayersTooDeep':
      el.reporter.error(kind, span, { limit: FIXED_LIMITS.layerDepth });
      break;
    case 'ListTooLong':
      el.reporter.error(kind, span, { limit: listItems.value, count, raise: raiseHint(listItems, count) });
      break;
    case 'TooManyLayers':
      el.reporter.error(kind, span, { limit: layers.value, raise: raiseHint(layers, count) });
      break;
    case 'ElaborationTooLong':
      el.reporter.error(kind, span, { limit: evalSteps.value, raise: raiseHint(evalSteps, count) });
      break;
  }
  return ERROR;
}

/** Charges a list of `count` items about to be made; false (reported) when it is too long. */
export function chargeItems(el: Elaborator, count: number, span: Span): boolean {
  const budget = el.budget;
  if (budget.exhausted) return false;
  if (count > budget.limits.listItems.value) {
    el.exhaust('ListTooLong', span, count);
    return false;
  }
  budget.steps += Math.max(0, count);
  if (budget.steps > budget.limits.evalSteps.value) {
    el.exhaust('ElaborationTooLong', span);
    return false;
  }
  return true;
}

/** Charges `count` layers about to be made; false (reported) past the layer limit. */
export function chargeLayers(el: Elaborator, count: number, span: Span): boolean {
  const budget = el.budget;
  if (budget.exhausted) return false;
  budget.layers += count;
  if (budget.layers > budget.limits.layers.value) {
    el.exhaust('TooManyLayers', span, budget.layers);
    return false;
  }
  return true;
}

/**
 * Size and depth of the layer tree about to get `children`, as the emitter and the diagram will
 * expand it (a layer used twice counts twice); false (reported) past the layer or depth limit.
 * Sizes are kept per layer, so the check costs one step per child. Without it `[l, l]` nested
 * a few dozen times would make a tree (and a fingerprint) of billions of layers.
 */
export function expansionOf(
  el: Elaborator,
  children: ReadonlyMap<string, LayerInstance>,
  span: Span,
): LayerStats | undefined {
  let size = 1;
  let depth = 1;
  for (const c of children.values()) {
    const stats = el.layerStats.get(c) ?? { size: 1, depth: 1 };
    size += stats.size;
    depth = Math.max(depth, stats.depth + 1);
  }
  if (size > el.budget.limits.layers.value) {
    el.exhaust('TooManyLayers', span, size);
    return undefined;
  }
  if (depth > FIXED_LIMITS.layerDepth) {
    el.exhaust('LayersTooDeep', span);
    return undefined;
  }
  return { size, depth };
}
