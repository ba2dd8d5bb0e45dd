import { isIP } from 'node:net';
import type { Context, EntityJson, TypeAndId } from './cedar.js';
import { wellFormed } from './cedar-values.js';
import type { ContextUse } from './context-use.js';
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

// Cedar's JSON value escapes must parse, or the call fails (a deny): a member
// left out of the key must be one Cedar is sure to read without error.
const CEDAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set([
  'true',
  'false',
  'if',
  'then',
  'else',
  'in',
  'is',
  'like',
  'has',
  'principal',
  'action',
  'resource',
  'context',
  'permit',
  'forbid',
  'when',
  'unless',
  '__cedar',
]);
const IPV4_OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${IPV4_OCTET}(?:\\.${IPV4_OCTET}){3}$`);
// Cedar's decimal needs the dot and 1 to 4 fraction digits; 14 integer digits stay in range
const DECIMAL = /^-?\d{1,14}\.\d{1,4}$/;
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function isEntityType(type: unknown): boolean {
  return (
    typeof type === 'string' && type.split('::').every((part) => CEDAR_NAME.test(part) && !RESERVED.has(part))
  );
}

/** An extension value Cedar is sure to construct: decimals in range (with their dot), ISO datetimes as `Date` writes them, IPv4 and plain IPv6 addresses. */
function isSafeExtension(extn: unknown): boolean {
  if (typeof extn !== 'object' || extn === null || Object.keys(extn).length !== 2) return false;
  const { fn, arg } = extn as { fn?: unknown; arg?: unknown };
  if (typeof arg !== 'string') return false;
  switch (fn) {
    case 'decimal':
      return DECIMAL.test(arg);
    case 'datetime':
      return ISO_DATETIME.test(arg) && !Number.isNaN(Date.parse(arg)) && new Date(arg).toISOString() === arg;
    case 'ip':
      // IPv6 only in hex-and-colons form: Cedar refuses IPv4 embedded in IPv6 and zone indexes
      return IPV4.test(arg) || (isIP(arg) === 6 && /^[0-9A-Fa-f:]+$/.test(arg));
    default:
      return false;
  }
}

/**
 * Whether Cedar is sure to read `value` (a member of the context) without an
 * error: well-formed strings (no lone surrogate), booleans, safe integers, sets and records of them, entity
 * references with well-formed types, and the extension values above. Anything
 * else (another escape, a key starting with `__`) might fail to parse, so a
 * call carrying it is not memoized unless its policies read that member.
 */
function isSafeCedarValue(value: unknown, depth = 0): boolean {
  if (depth > 32) return false;
  switch (typeof value) {
    case 'string':
      return wellFormed(value);
    case 'boolean':
      return true;
    case 'number':
      return Number.isSafeInteger(value);
    case 'object': {
      if (value === null) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isSafeCedarValue(value[i], depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if ((proto !== Object.prototype && proto !== null) || 'toJSON' in value) return false;
      const keys = Object.keys(value);
      if (keys.length === 1 && keys[0] === '__entity') {
        const ref = (value as { __entity: unknown }).__entity;
        return (
          typeof ref === 'object' &&
          ref !== null &&
          Object.keys(ref).length === 2 &&
          isEntityType((ref as { type?: unknown }).type) &&
          typeof (ref as { id?: unknown }).id === 'string' &&
          wellFormed((ref as { id: string }).id)
        );
      }
      if (keys.length === 1 && keys[0] === '__extn')
        return isSafeExtension((value as { __extn: unknown }).__extn);
      for (const key of keys) {
        if (key.startsWith('__') || !wellFormed(key)) return false;
        if (!isSafeCedarValue((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/**
 * The part of a context the policies read (see {@link ContextUse}), with its
 * members in a fixed order; null when the call must not be memoized: the
 * policies read all of it, or a member they do not read might not parse.
 */
function projectContext(context: Context, use: ContextUse): Context | null {
  const names = Object.keys(context);
  if (names.length === 0) return context;
  if (use === 'all') return null;
  const read: Record<string, unknown> = {};
  for (const name of names.sort()) {
    if (use.has(name)) read[name] = context[name];
    // a context whose only member is `__entity`, `__extn` or `__expr` is read as an escape, and fails
    else if (name.startsWith('__') || !wellFormed(name) || !isSafeCedarValue(context[name])) return null;
  }
  return read as Context;
}

/**
 * The memo key of a Cedar call on the pre-parsed set built as `build`, or null
 * when the call must not be memoized. A Cedar answer is a pure function of the
 * policy set, the request's entities and the members of `context` its policies
 * read (Cedar reads no clock and no state of its own; a policy reaches the
 * context only through `context.x` or `context has x`, else its use is `'all'`),
 * so the key is the exact text of those inputs (a sealed entity's number
 * standing for its text): two calls share a key only if Cedar is given the
 * same data wherever the policies look. Members no policy
 * reads (a gateway call's time, counters and arguments, under a grant without
 * a condition) are left out, but only when Cedar is sure to parse them, since
 * a value that fails to parse fails the whole call.
 */
export function memoKey(build: number, input: CedarInput, contextUse: ContextUse): string | null {
  const context = projectContext(input.context, contextUse);
  if (context === null) return null;
  const head = [input.principal, input.action, input.resource, context];
  if (!isPlainJson(head)) return null;
  let text = JSON.stringify(head);
  if (text.length > MAX_KEY_CHARS) return null;
  for (const entity of input.entities) {
    const entityText = textOf(entity);
    if (entityText === null) return null;
    // U+0001 never occurs raw in JSON text (JSON.stringify escapes it), so the joined key is unambiguous
    text += `\u0001${entityText}`;
    if (text.length > MAX_KEY_CHARS) return null;
  }
  return `${build}\u0000${text}`;
}

/**
 * The memo-key text of entities that can no longer change (see {@link sealEntity}):
 * `#<n>`, a number given to that object alone, or null when it is not plain JSON.
 * A sealed object's content never changes, so its number stands for its JSON
 * text: two calls share it only if Cedar is given the very same entity. Equal
 * entities sealed as two objects get two numbers (a memo miss, never a wrong
 * answer). A short key is cheaper to build and to hash than the entity's text.
 */
const sealedKeys = new WeakMap<object, string | null>();
let sealedCount = 0;

/**
 * Deep-freezes an entity so that its memo key can stand for its content for
 * as long as the object lives (the entity cache hands the same object to every
 * decision until the entity changes). Returns the entity.
 */
export function sealEntity(entity: EntityJson): EntityJson {
  if (!sealedKeys.has(entity)) {
    deepFreeze(entity);
    sealedKeys.set(entity, isPlainJson(entity) ? `#${++sealedCount}` : null);
  }
  return entity;
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
}

/**
 * An entity's part of a memo key: its number when sealed, else its JSON text
 * (which starts with `{`, never `#`); null when it is not plain JSON (and so
 * must not be keyed).
 */
function textOf(entity: EntityJson): string | null {
  const sealed = sealedKeys.get(entity);
  if (sealed !== undefined) return sealed;
  return isPlainJson(entity) ? JSON.stringify(entity) : null;
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
 * parents, as loaded for this request) are in the key in full, or by the number
 * of the sealed object that holds them, so a suspension or any change to an
 * entity misses. What is not a Cedar input (the agent
 * checks before Cedar, token revocation, rate limits) is checked on every call
 * before the memo is consulted.
 */
export class DecisionMemo {
  /**
   * Answers by key, each with the key string it was stored under: a hit moves
   * the entry to the end re-inserted with that string, so the key text each
   * lookup builds dies young instead of being kept (and promoted out of the
   * young generation) by the map.
   */
  private readonly entries = new Map<string, { readonly key: string; readonly decision: SetDecision }>();
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
      this.entries.set(hit.key, hit);
    }
    return hit?.decision;
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
    this.entries.set(key, { key, decision: frozen });
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
