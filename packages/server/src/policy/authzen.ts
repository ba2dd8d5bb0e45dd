import type { Decision, DecisionRequest } from './decision.js';
import type { PolicyDeps } from './deps.js';
import { type EntityUid, isEntityTypeName, uidKey } from './entity-uid.js';

/**
 * OpenID AuthZEN Authorization API 1.0, mapped onto the engine. The mapping is
 * a contract (other tools rely on it):
 *
 * - `subject` → principal and `resource` → resource, as the Cedar entity
 *   `<type>::"<id>"`, the type string used verbatim;
 * - their attributes are the stored attributes of the entity (when known),
 *   overlaid by the request's `properties`;
 * - `action.name` → `Action::"<name>"`; `action.properties` → `context.action`;
 * - the request `context` → the Cedar `context` (besides `action`).
 */

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface AuthzenEntity {
  readonly type?: unknown;
  readonly id?: unknown;
  readonly properties?: unknown;
}
export interface AuthzenAction {
  readonly name?: unknown;
  readonly properties?: unknown;
}
/** One evaluation's parts, as they arrive (checked here, not trusted). */
export interface AuthzenParts {
  readonly subject?: AuthzenEntity | undefined;
  readonly action?: AuthzenAction | undefined;
  readonly resource?: AuthzenEntity | undefined;
  readonly context?: unknown;
}

/** Raised when an evaluation cannot be mapped; in a batch it makes that item a deny. */
export class AuthzenRequestError extends Error {
  override readonly name = 'AuthzenRequestError';
}

function entity(
  value: AuthzenEntity | undefined,
  what: 'subject' | 'resource',
): { uid: EntityUid; properties?: Json } {
  if (!isObject(value)) throw new AuthzenRequestError(`missing \`${what}\``);
  if (typeof value.type !== 'string' || value.type === '')
    throw new AuthzenRequestError(`\`${what}.type\` must be a non-empty string`);
  if (typeof value.id !== 'string') throw new AuthzenRequestError(`\`${what}.id\` must be a string`);
  if (!isEntityTypeName(value.type))
    throw new AuthzenRequestError(`\`${what}.type\` \`${value.type}\` is not a Cedar entity type name`);
  if (value.properties !== undefined && !isObject(value.properties))
    throw new AuthzenRequestError(`\`${what}.properties\` must be an object`);
  return {
    uid: { type: value.type, id: value.id },
    ...(value.properties ? { properties: value.properties } : {}),
  };
}

/** The engine request of one AuthZEN evaluation (see the mapping above). */
export function toDecisionRequest(parts: AuthzenParts): DecisionRequest {
  const subject = entity(parts.subject, 'subject');
  const resource = entity(parts.resource, 'resource');
  const action = parts.action;
  if (!isObject(action) || typeof action.name !== 'string' || action.name === '')
    throw new AuthzenRequestError('`action.name` must be a non-empty string');
  if (action.properties !== undefined && !isObject(action.properties))
    throw new AuthzenRequestError('`action.properties` must be an object');
  if (parts.context !== undefined && !isObject(parts.context))
    throw new AuthzenRequestError('`context` must be an object');
  const { action: _reserved, ...context } = parts.context ?? {};
  return {
    principal: subject.uid,
    action: action.name,
    resource: resource.uid,
    context: action.properties ? { ...context, action: action.properties } : context,
    principalProperties: subject.properties,
    resourceProperties: resource.properties,
  };
}

/** The AuthZEN response of a decision: `decision`, and why in `context`. */
export function decisionBody(d: Decision): { decision: boolean; context: Json } {
  return {
    decision: d.allowed,
    context: {
      policy_version: d.version,
      policies: d.policies,
      ...(d.errors.length > 0 ? { errors: d.errors } : {}),
      ...(d.shadow ? { shadow: { decision: d.shadow.allowed, policies: d.shadow.policies } } : {}),
    },
  };
}

export type EvaluationsSemantic = 'execute_all' | 'deny_on_first_deny' | 'permit_on_first_permit';

/**
 * The parts of batch item `item` with the request's defaults: a per-item
 * `subject`, `action`, `resource` or `context` replaces the default as a whole,
 * except that a missing `type`/`id` (`name`) falls back to the default's.
 */
export function mergeDefaults(defaults: AuthzenParts, item: AuthzenParts): AuthzenParts {
  const withEntity = (d: AuthzenEntity | undefined, i: AuthzenEntity | undefined) =>
    isObject(i) ? { ...i, type: i.type ?? d?.type, id: i.id ?? d?.id } : d;
  return {
    subject: withEntity(defaults.subject, item.subject),
    resource: withEntity(defaults.resource, item.resource),
    action: isObject(item.action)
      ? { ...item.action, name: item.action.name ?? defaults.action?.name }
      : defaults.action,
    context: item.context !== undefined ? item.context : defaults.context,
  };
}

/** Whether a batch stops after `allowed` under `semantic`. */
export function stopsAfter(semantic: EvaluationsSemantic, allowed: boolean): boolean {
  return (
    (semantic === 'deny_on_first_deny' && !allowed) || (semantic === 'permit_on_first_permit' && allowed)
  );
}

/** At most this many candidates are evaluated per search. */
export const SEARCH_LIMIT = 1000;

/** Known entities of `type`: the inventory, stored entities, and those policies name. */
export async function knownEntities(
  deps: PolicyDeps,
  type: string,
  named: Iterable<EntityUid>,
): Promise<EntityUid[]> {
  const ids = new Set<string>();
  const page = { limit: SEARCH_LIMIT };
  if (type === 'Agent') for (const a of (await deps.store.agents.list(page)).items) ids.add(a.id);
  else if (type === 'User') for (const u of (await deps.store.users.list(page)).items) ids.add(u.id);
  else if (type === 'Team') for (const t of (await deps.store.teams.list(page)).items) ids.add(t.name);
  else for (const id of await deps.store.policy.entities.idsOfType(type, SEARCH_LIMIT)) ids.add(id);
  for (const uid of named) if (uid.type === type) ids.add(uid.id);
  return [...ids]
    .sort()
    .slice(0, SEARCH_LIMIT)
    .map((id) => ({ type, id }));
}

/** A page of search results: `token` is an opaque offset into the (sorted) results. */
export function pageOf<T>(
  results: readonly T[],
  page: { token?: unknown; limit?: unknown } | undefined,
): { results: T[]; page: { next_token: string; count: number; total: number } } {
  let offset = 0;
  if (typeof page?.token === 'string' && page.token !== '') {
    const decoded = Buffer.from(page.token, 'base64url').toString('utf8');
    if (!/^\d{1,9}$/.test(decoded) || Buffer.from(decoded, 'utf8').toString('base64url') !== page.token) {
      throw new AuthzenRequestError('`page.token` is not a token this PDP issued');
    }
    offset = Number(decoded);
  }
  const limit =
    typeof page?.limit === 'number' && Number.isInteger(page.limit) && page.limit > 0
      ? page.limit
      : results.length;
  const slice = results.slice(offset, offset + limit);
  const next = offset + slice.length;
  return {
    results: slice,
    page: {
      next_token: next < results.length ? Buffer.from(String(next), 'utf8').toString('base64url') : '',
      count: slice.length,
      total: results.length,
    },
  };
}

/** Dedupes uids keeping order. */
export function uniqueUids(uids: Iterable<EntityUid>): EntityUid[] {
  const seen = new Map<string, EntityUid>();
  for (const u of uids) if (!seen.has(uidKey(u))) seen.set(uidKey(u), u);
  return [...seen.values()];
}
