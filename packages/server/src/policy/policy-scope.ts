import type { PolicyJson } from './cedar.js';
import { type EntityUid, fromUidJson, parseUidKey, uidKey } from './entity-uid.js';

/**
 * Index keys: what a policy's principal (or resource) constraint can match.
 * `*` anything; `is:T` entities of type T; `=<uid key>` that entity; `in:<uid key>`
 * that entity or anything inside it. A request matches a policy when one of
 * its keys (see {@link requestKeys}) equals the policy's key, so a decision
 * looks only at the policies that can apply to its principal and resource.
 */
export type ScopeKey = string;

type Constraint = PolicyJson['principal'] | PolicyJson['resource'];

/** The key of a constraint; `slots` gives the values of a template link. */
export function scopeKey(constraint: Constraint, slots: Readonly<Record<string, EntityUid>> = {}): ScopeKey {
  const target = (c: { entity: Parameters<typeof fromUidJson>[0] } | { slot: string }): string => {
    if ('entity' in c) return uidKey(fromUidJson(c.entity));
    const value = slots[c.slot];
    if (!value) throw new Error(`INVARIANT: template slot \`${c.slot}\` is linked`);
    return uidKey(value);
  };
  switch (constraint.op) {
    case 'All':
      return '*';
    case '==':
      return `=${target(constraint)}`;
    case 'in':
      return `in:${target(constraint)}`;
    case 'is':
      // `is T in E` is indexed by `in E`, the narrower half; Cedar checks the type
      return constraint.in ? `in:${target(constraint.in)}` : `is:${constraint.entity_type}`;
    default:
      return '*';
  }
}

/** The keys a request's principal or resource matches: itself, its type, and everything it is in. */
export function requestKeys(uid: EntityUid, ancestors: readonly EntityUid[]): ScopeKey[] {
  const self = uidKey(uid);
  return ['*', `is:${uid.type}`, `=${self}`, `in:${self}`, ...ancestors.map((a) => `in:${uidKey(a)}`)];
}

/** The entity a key names (`=` and `in:` keys); null for `*` and `is:`. */
export function keyEntity(key: ScopeKey): EntityUid | null {
  if (key.startsWith('=')) return parseUidKey(key.slice(1));
  if (key.startsWith('in:')) return parseUidKey(key.slice(3));
  return null;
}
