import { type AuthzenParts, knownEntities, toDecisionRequest } from './authzen.js';
import type { PolicyDeps } from './deps.js';
import type { EntityUid } from './entity-uid.js';

/**
 * AuthZEN searches: the candidates are the known entities of the searched type
 * (see `knownEntities`) or, for actions, the schema's actions that apply to the
 * subject's and resource's types; each is decided like an evaluation, and the
 * allowed ones are returned, sorted. Unknown types give no results.
 */

export interface SearchOutcome<T> {
  readonly results: readonly T[];
  readonly version: number;
  readonly evaluated: number;
}

type EntityParts = { readonly type?: unknown; readonly properties?: unknown };

export async function searchSubjects(
  deps: PolicyDeps,
  parts: AuthzenParts & { subject: EntityParts },
): Promise<SearchOutcome<EntityUid>> {
  const state = await deps.engine.current();
  const type = String(parts.subject.type);
  const candidates = await knownEntities(deps, type, state.enforce.named.principals.values());
  const results: EntityUid[] = [];
  for (const uid of candidates) {
    const d = await deps.engine.decide(
      toDecisionRequest({ ...parts, subject: { ...parts.subject, id: uid.id } }),
    );
    if (d.allowed) results.push(uid);
  }
  return { results, version: state.version, evaluated: candidates.length };
}

export async function searchResources(
  deps: PolicyDeps,
  parts: AuthzenParts & { resource: EntityParts },
): Promise<SearchOutcome<EntityUid>> {
  const state = await deps.engine.current();
  const type = String(parts.resource.type);
  const candidates = await knownEntities(deps, type, state.enforce.named.resources.values());
  const results: EntityUid[] = [];
  for (const uid of candidates) {
    const d = await deps.engine.decide(
      toDecisionRequest({ ...parts, resource: { ...parts.resource, id: uid.id } }),
    );
    if (d.allowed) results.push(uid);
  }
  return { results, version: state.version, evaluated: candidates.length };
}

export async function searchActions(
  deps: PolicyDeps,
  parts: AuthzenParts & { subject: EntityParts; resource: EntityParts },
): Promise<SearchOutcome<string>> {
  const state = await deps.engine.current();
  const subjectType = String(parts.subject.type);
  const resourceType = String(parts.resource.type);
  const candidates = [...state.schema.actions.entries()]
    .filter(([, a]) => a.principalTypes.includes(subjectType) && a.resourceTypes.includes(resourceType))
    .map(([name]) => name)
    .sort();
  const results: string[] = [];
  for (const name of candidates) {
    const d = await deps.engine.decide(toDecisionRequest({ ...parts, action: { name } }));
    if (d.allowed) results.push(name);
  }
  return { results, version: state.version, evaluated: candidates.length };
}
