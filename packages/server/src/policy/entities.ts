import { type Actor, recordAuditEvent } from '../audit/index.js';
import { CustosError, type FieldError, notFound } from '../core/index.js';
import type { Page, PolicyEntityRecord, Repositories } from '../storage/index.js';
import { requirePolicyAdmin, requirePolicyReader } from './access.js';
import { cedar, type EntityJson, errorText } from './cedar.js';
import { normalizeTyped } from './cedar-values.js';
import type { PolicyDeps } from './deps.js';
import { agentEntity, userEntity } from './entity-loader.js';
import { type EntityUid, isEntityTypeName, uidKey, uidText } from './entity-uid.js';
import { INVENTORY_ENTITY_TYPES } from './platform-schema.js';
import type { EffectiveSchema } from './schema.js';
import { storedSchema } from './stored-schema.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An entity in Cedar's JSON entity format, as admins send it. */
export interface EntityInput {
  readonly uid:
    | { readonly type: string; readonly id: string }
    | { readonly __entity: { type: string; id: string } };
  readonly attrs?: Readonly<Record<string, unknown>> | undefined;
  readonly parents?:
    | readonly ({ type: string; id: string } | { __entity: { type: string; id: string } })[]
    | undefined;
  readonly tags?: Readonly<Record<string, unknown>> | undefined;
}

const plainUid = (u: EntityInput['uid']): EntityUid => ('__entity' in u ? u.__entity : u);

/**
 * Puts entities in Cedar's explicit form (entity references as `__entity`,
 * extension values as `__extn`, guided by the schema) and checks them against
 * the schema: unknown types, undeclared or mistyped attributes are refused.
 */
export function checkEntities(
  schema: EffectiveSchema,
  inputs: readonly EntityInput[],
): { entities: PolicyEntityRecord[]; fields: FieldError[] } {
  const fields: FieldError[] = [];
  const entities: PolicyEntityRecord[] = [];
  const seen = new Set<string>();
  inputs.forEach((input, i) => {
    const pointer = `/entities/${i}`;
    const uid = plainUid(input.uid);
    if (!isEntityTypeName(uid.type)) {
      fields.push({
        pointer: `${pointer}/uid/type`,
        detail: `\`${uid.type}\` is not a Cedar entity type name`,
      });
      return;
    }
    if (INVENTORY_ENTITY_TYPES.has(uid.type)) {
      fields.push({
        pointer: `${pointer}/uid/type`,
        detail: `\`${uid.type}\` entities come from the inventory; change them through the ${uid.type.toLowerCase()} API`,
      });
      return;
    }
    const type = schema.entityTypes.get(uid.type);
    if (!type) {
      fields.push({
        pointer: `${pointer}/uid/type`,
        detail: `unknown entity type \`${uid.type}\` (not in the schema)`,
      });
      return;
    }
    const key = uidKey(uid);
    if (seen.has(key)) fields.push({ pointer, detail: `entity ${uidText(uid)} is given twice` });
    seen.add(key);
    const attrs = normalizeTyped(input.attrs ?? {}, type.attributes);
    const tags = isObject(input.tags)
      ? Object.fromEntries(
          Object.entries(input.tags).map(([k, v]) => [k, type.tags ? normalizeTyped(v, type.tags) : v]),
        )
      : {};
    entities.push({
      type: uid.type,
      id: uid.id,
      attrs: isObject(attrs) ? attrs : {},
      parents: (input.parents ?? []).map(plainUid).map((p) => ({ type: p.type, id: p.id })),
      tags,
      updatedAt: 0,
    });
  });
  if (fields.length > 0) return { entities: [], fields };
  const answer = cedar.checkParseEntities({ entities: entities.map(toJson), schema: schema.json });
  if (answer.type === 'failure') {
    for (const e of answer.errors) fields.push({ pointer: '/entities', detail: errorText(e) });
  }
  return { entities, fields };
}

export const toJson = (e: PolicyEntityRecord): EntityJson => ({
  uid: { type: e.type, id: e.id },
  attrs: e.attrs as EntityJson['attrs'],
  parents: e.parents.map((p) => ({ type: p.type, id: p.id })),
  tags: e.tags as NonNullable<EntityJson['tags']>,
});

const refuse = (fields: readonly FieldError[]) =>
  new CustosError('validation_failed', fields[0]?.detail ?? 'invalid entities', { fields });

/**
 * Creates or replaces entities (Cedar JSON entity format), all or none, after
 * checking them against the schema. Custos' own agents, users and teams are
 * not stored here: they are entities automatically.
 */
export async function upsertEntities(
  deps: PolicyDeps,
  actor: Actor,
  inputs: readonly EntityInput[],
  reason: string | null,
): Promise<{ upserted: number; uids: readonly string[] }> {
  requirePolicyAdmin(actor, 'change entities');
  return deps.store.transaction(async (tx) => {
    const schema = await storedSchema(tx);
    const { entities, fields } = checkEntities(schema, inputs);
    if (fields.length > 0) throw refuse(fields);
    const now = deps.clock.now();
    for (const e of entities) {
      await tx.policy.entities.upsert({ ...e, updatedAt: now });
      if (entities.length <= 100) await tx.notify({ topic: 'policy', id: `entity:${uidKey(e)}` });
    }
    if (entities.length > 100) await tx.notify({ topic: 'policy', id: 'entity:*' });
    const uids = entities.map((e) => uidText(e));
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'entity.upsert',
      target: entities.length === 1 ? { type: 'entity', id: uids[0] as string } : null,
      reason,
      details: { count: uids.length, uids: uids.slice(0, 100) },
    });
    return { upserted: entities.length, uids };
  });
}

/** Deletes a stored entity. */
export async function deleteEntity(
  deps: PolicyDeps,
  actor: Actor,
  uid: EntityUid,
  reason: string | null,
): Promise<void> {
  requirePolicyAdmin(actor, 'change entities');
  await deps.store.transaction(async (tx) => {
    if (!(await tx.policy.entities.delete(uid.type, uid.id))) throw notFound('entity', uidText(uid));
    await tx.notify({ topic: 'policy', id: `entity:${uidKey(uid)}` });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'entity.delete',
      target: { type: 'entity', id: uidText(uid) },
      reason,
    });
  });
}

/**
 * One entity as decisions see it: a stored one, or one of Custos' own agents,
 * users and teams, built from the inventory with its attributes.
 */
export async function getEntity(deps: PolicyDeps, actor: Actor, uid: EntityUid): Promise<EntityJson> {
  requirePolicyReader(actor, 'read entities');
  const repos: Repositories = deps.store;
  if (uid.type === 'Agent') {
    const agent = await repos.agents.get(uid.id);
    if (agent) return agentEntity(agent).json;
  } else if (uid.type === 'User') {
    const user = await repos.users.get(uid.id);
    if (user) return userEntity(user).json;
  } else if (uid.type === 'Team') {
    if (await repos.teams.get(uid.id)) return { uid: { type: 'Team', id: uid.id }, attrs: {}, parents: [] };
  } else {
    const stored = await repos.policy.entities.get(uid.type, uid.id);
    if (stored) return toJson(stored);
  }
  throw notFound('entity', uidText(uid));
}

export function listEntities(
  deps: PolicyDeps,
  actor: Actor,
  filter: { type?: string | undefined; cursor?: string | undefined; limit: number },
): Promise<Page<PolicyEntityRecord>> {
  requirePolicyReader(actor, 'read entities');
  return deps.store.policy.entities.list(filter);
}
