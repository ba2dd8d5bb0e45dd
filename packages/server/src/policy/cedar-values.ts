import type { CedarValueJson } from './cedar.js';
import type { CedarType } from './schema.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const MAX_DEPTH = 32;
/** Whether Cedar can be given `text`: it reads JSON text, which cannot carry a lone UTF-16 surrogate. */
export const wellFormed = (text: string): boolean => text.isWellFormed();

/** Raised for JSON that has no Cedar value; the decision it was for is a deny. */
export class CedarValueError extends Error {
  override readonly name = 'CedarValueError';
}

function toDecimal(n: number, path: string): CedarValueJson {
  // Cedar decimals have at most 4 fractional digits; anything else would change the value
  const text = String(n);
  if (/^-?\d{1,15}(\.\d{1,4})?$/.test(text)) return { __extn: { fn: 'decimal', arg: text } };
  throw new CedarValueError(
    `\`${path}\`: the number ${text} has no Cedar value (integers, or decimals with up to 4 fraction digits)`,
  );
}

/**
 * Converts request JSON (AuthZEN `properties` and `context`) to Cedar's JSON
 * value form: strings, booleans and sets as they are, integers as Longs,
 * other numbers as `decimal` when exact, objects as records. `null` members of
 * an object are left out (absent); `{"__entity": …}` and `{"__extn": …}` pass
 * through as Cedar's escapes. Throws {@link CedarValueError} for anything else.
 */
export function toCedarValue(value: unknown, path: string, depth = 0): CedarValueJson {
  if (depth > MAX_DEPTH) throw new CedarValueError(`\`${path}\` is nested too deeply`);
  if (typeof value === 'string') {
    if (!wellFormed(value)) throw new CedarValueError(`\`${path}\` is not well-formed Unicode text`);
    return value;
  }
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return value;
    if (Number.isFinite(value) && !Number.isInteger(value)) return toDecimal(value, path);
    throw new CedarValueError(`\`${path}\`: the number ${value} is outside Cedar's integer range`);
  }
  if (Array.isArray(value)) return value.map((v, i) => toCedarValue(v, `${path}[${i}]`, depth + 1));
  if (isObject(value)) {
    if ('__entity' in value || '__extn' in value) return value as CedarValueJson;
    return toCedarRecord(value, path, depth);
  }
  throw new CedarValueError(`\`${path}\` is null, which Cedar has no value for`);
}

/** Converts a JSON object to a Cedar record (see {@link toCedarValue}). */
export function toCedarRecord(value: Json, path: string, depth = 0): Record<string, CedarValueJson> {
  const out: Record<string, CedarValueJson> = {};
  for (const [key, member] of Object.entries(value)) {
    if (member === null || member === undefined) continue;
    if (!wellFormed(key))
      throw new CedarValueError(
        `a member name in \`${path || 'the request'}\` is not well-formed Unicode text`,
      );
    out[key] = toCedarValue(member, path ? `${path}.${key}` : key, depth + 1);
  }
  return out;
}

/**
 * Rewrites a value of an entity stored by an admin into Cedar's explicit JSON
 * form, guided by its declared type: entity references written `{type, id}`
 * become `{"__entity": …}` and extension values written as strings become
 * `{"__extn": …}`. Decisions run without the schema (so AuthZEN requests may
 * carry properties it does not declare), so stored values must not depend on
 * it to be read correctly.
 */
export function normalizeTyped(value: unknown, type: CedarType, depth = 0): unknown {
  if (depth > MAX_DEPTH) return value;
  switch (type.kind) {
    case 'Entity':
      if (
        isObject(value) &&
        !('__entity' in value) &&
        typeof value.type === 'string' &&
        typeof value.id === 'string'
      )
        return { __entity: { type: value.type, id: value.id } };
      return value;
    case 'Extension':
      return typeof value === 'string' ? { __extn: { fn: type.name, arg: value } } : value;
    case 'Set':
      return Array.isArray(value) ? value.map((v) => normalizeTyped(v, type.element, depth + 1)) : value;
    case 'Record': {
      if (!isObject(value) || '__extn' in value || '__entity' in value) return value;
      const out: Json = {};
      for (const [k, v] of Object.entries(value)) {
        const t = type.attributes.get(k);
        out[k] = t ? normalizeTyped(v, t, depth + 1) : v;
      }
      return out;
    }
    default:
      return value;
  }
}

/** Every entity reference (`{"__entity": …}`) inside a Cedar value, to one level of records and sets. */
export function entityRefsIn(
  value: unknown,
  out: { type: string; id: string }[] = [],
  depth = 0,
): { type: string; id: string }[] {
  if (depth > 4) return out;
  if (Array.isArray(value)) for (const v of value) entityRefsIn(v, out, depth + 1);
  else if (isObject(value)) {
    const ref = value.__entity;
    if (isObject(ref) && typeof ref.type === 'string' && typeof ref.id === 'string')
      out.push({ type: ref.type, id: ref.id });
    else if (!('__extn' in value)) for (const v of Object.values(value)) entityRefsIn(v, out, depth + 1);
  }
  return out;
}
