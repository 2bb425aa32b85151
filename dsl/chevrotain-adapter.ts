/**
 * The one place nvcc reaches into Chevrotain's internals, behind a version check.
 * In: a parser instance and the token type to leave out of its re-sync sets. Out: a status
 * saying whether the adjustment is in place and, if not, why. Holds afterwards: either the
 * parser's error recovery never re-syncs on that token (Chevrotain 11, whose private
 * `getFollowSetFromFollowKey` this was checked against), or the parser is untouched: it still
 * parses every input, but an error inside a body may unwind to the top level and drop the rest
 * of that declaration.
 */
import { type TokenType, VERSION } from 'chevrotain';

/** The Chevrotain major version whose recovery internals this adapter was written against. */
export const CHECKED_CHEVROTAIN_MAJOR = 11;

const METHOD = 'getFollowSetFromFollowKey';

export interface ResyncAdjustment {
  readonly applied: boolean;
  readonly chevrotainVersion: string;
  /** Why the parser was left untouched (only when `applied` is false). */
  readonly reason?: string;
}

type FollowSetLookup = (followKey: unknown) => TokenType[] | undefined;

/**
 * Leaves `excluded` out of every follow set the parser re-syncs to after an error, when the
 * installed Chevrotain is the checked major version and still has the private method;
 * otherwise changes nothing and says why.
 */
export function excludeFromResyncSets(
  parser: object,
  excluded: TokenType,
  version: string = VERSION,
): ResyncAdjustment {
  const major = Number(version.split('.')[0]);
  if (major !== CHECKED_CHEVROTAIN_MAJOR)
    return {
      applied: false,
      chevrotainVersion: version,
      reason:
        `chevrotain ${version} is not ${CHECKED_CHEVROTAIN_MAJOR}.x, the version whose private ${METHOD} ` +
        'dsl/chevrotain-adapter.ts was checked against',
    };
  const target = parser as Record<string, unknown>;
  const original = target[METHOD];
  if (typeof original !== 'function' || original.length !== 1)
    return {
      applied: false,
      chevrotainVersion: version,
      reason: `chevrotain ${version} has no one-argument method ${METHOD} on its parsers`,
    };
  const lookup = (original as FollowSetLookup).bind(parser);
  target[METHOD] = ((followKey: unknown) => (lookup(followKey) ?? []).filter((t) => t !== excluded)) as FollowSetLookup;
  return { applied: true, chevrotainVersion: version };
}
