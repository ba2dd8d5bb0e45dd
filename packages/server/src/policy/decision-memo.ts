import type { Context, EntityJson, TypeAndId } from './cedar.js';
import type { SetDecision } from './decision.js';

/** What one Cedar call is given besides the pre-parsed policy set. */
export interface CedarInput {
  readonly principal: TypeAndId;
  readonly action: TypeAndId;
  readonly resource: TypeAndId;
  readonly context: Context;
  readonly entities: readonly EntityJson[];
}

/** Keys longer than this are not memoized (a request with very large entities is rare and costly to key). */
const MAX_KEY_CHARS = 32_768;

/**
 * Whether `value` is plain JSON data, whose JSON text is exactly what Cedar is
 * given. Rejects `undefined` and holes (dropped or turned into `null` by JSON,
 * not necessarily by Cedar), non-finite numbers (written as `null`), bigints,
 * functions, symbols, and objects that are not plain (a `Map` or a `Date`, or
 * anything with `toJSON`, would serialize as something else than what Cedar
 * reads). A hand-written walk: a JSON.stringify replacer costs twice as much.
 */
function isPlainJson(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!(i in value) || !isPlainJson(value[i])) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if ((proto !== Object.prototype && proto !== null) || 'toJSON' in value) return false;
      for (const key in value) if (!isPlainJson((value as Record<string, unknown>)[key])) return false;
      return true;
    }
    default:
      return false;
  }
}

/**
 * The memo key of a Cedar call on the pre-parsed set built as `build`, or null
 * when the call must not be memoized. Only calls without context are: their
 * answer is a pure function of the policy set and the entities (Cedar reads no
 * clock and no state of its own), and the key is the exact text of every input,
 * so two calls share a key only if Cedar is given the same data. Requests with
 * context (the gateway's carry the time and per-call counters) would never
 * repeat and are not memoized.
 */
export function memoKey(build: number, input: CedarInput): string | null {
  if (Object.keys(input.context).length > 0) return null;
  const all = [input.principal, input.action, input.resource, input.context, input.entities];
  if (!isPlainJson(all)) return null;
  const text = JSON.stringify(all);
  return text.length > MAX_KEY_CHARS ? null : `${build}\u0000${text}`;
}

/**
 * Cedar answers already computed, by {@link memoKey}: bounded, least recently
 * used evicted first.
 *
 * INVARIANT: a key starts with the build number of the pre-parsed policy set
 * the answer was computed on. A build number is never reused: a new policy
 * version, a set rebuilt because a time-bound grant ended, or a slot reused for
 * another selection all get a new one, so an answer can never be served for
 * policies other than those it was computed on. Entities (status, attributes,
 * parents, as loaded for this request) are in the key in full, so a suspension
 * or any change to an entity misses. What is not a Cedar input (the agent
 * checks before Cedar, token revocation, rate limits) is checked on every call
 * before the memo is consulted.
 */
export class DecisionMemo {
  private readonly entries = new Map<string, SetDecision>();
  private chars = 0;

  /** At most `capacity` answers, and keys of at most `maxChars` characters in all (memory stays a few MB). */
  constructor(
    private readonly capacity = 4096,
    private readonly maxChars = 4_000_000,
  ) {}

  get(key: string): SetDecision | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  /** Remembers an answer; it is frozen, as every caller gets the same object. */
  set(key: string, decision: SetDecision): SetDecision {
    const frozen = Object.freeze({
      ...decision,
      policies: Object.freeze([...decision.policies]),
      errors: Object.freeze(decision.errors.map((e) => Object.freeze({ ...e }))),
    });
    if (this.entries.has(key)) return frozen;
    while (
      this.entries.size > 0 &&
      (this.entries.size >= this.capacity || this.chars + key.length > this.maxChars)
    ) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.chars -= oldest.length;
    }
    this.entries.set(key, frozen);
    this.chars += key.length;
    return frozen;
  }

  clear(): void {
    this.entries.clear();
    this.chars = 0;
  }

  get size(): number {
    return this.entries.size;
  }
}
