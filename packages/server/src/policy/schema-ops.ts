import { type Actor, recordAuditEvent } from '../audit/index.js';
import { CustosError, type FieldError } from '../core/index.js';
import type { PolicyEntityRecord, TxRepositories } from '../storage/index.js';
import { requirePolicyAdmin, requirePolicyReader } from './access.js';
import type { PolicyDeps } from './deps.js';
import { checkEntities } from './entities.js';
import { uidKey } from './entity-uid.js';
import { CORE_SCHEMA, DEFAULT_EXTENSION } from './platform-schema.js';
import { buildSchema, type EffectiveSchema, schemaText } from './schema.js';
import { storedSchema } from './stored-schema.js';
import { validateAgainstSchema } from './validation.js';

export interface SchemaView {
  /** The policy version that last changed the schema (0: never). */
  readonly version: number;
  /** The admin's extension, as applied. */
  readonly text: string;
  readonly core: string;
  readonly defaultExtension: string;
  /** The effective schema (core + extension) as Cedar text. */
  readonly effective: string;
}

export async function getSchema(deps: PolicyDeps, actor: Actor): Promise<SchemaView> {
  requirePolicyReader(actor, 'read the schema');
  const schema = await storedSchema(deps.store);
  return {
    version: schema.version,
    text: schema.adminText,
    core: CORE_SCHEMA,
    defaultExtension: DEFAULT_EXTENSION,
    effective: schemaText(schema),
  };
}

/** Every stored entity, a page at a time. */
async function allEntities(tx: TxRepositories): Promise<PolicyEntityRecord[]> {
  const out: PolicyEntityRecord[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await tx.policy.entities.list({ cursor, limit: 500 });
    out.push(...page.items);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

/**
 * What a new schema would break: every policy of both sets, every live grant
 * and every stored entity must still validate against it.
 */
async function recheck(
  tx: TxRepositories,
  schema: EffectiveSchema,
): Promise<{ fields: FieldError[]; entities: PolicyEntityRecord[] }> {
  const fields: FieldError[] = [];
  for (const mode of ['enforce', 'shadow'] as const) {
    const policies = await tx.policy.policies.list(mode);
    const report = validateAgainstSchema(schema, policies);
    for (const e of report.errors) {
      fields.push({
        pointer: '/text',
        detail: `${mode} policy \`${e.policyId ?? '?'}\` would no longer validate: ${e.message}`,
      });
    }
  }
  const grants = await tx.policy.grants.live();
  const report = validateAgainstSchema(schema, [], grants);
  for (const e of report.errors) {
    fields.push({
      pointer: '/text',
      detail: `grant \`${e.policyId ?? '?'}\` would no longer validate: ${e.message}`,
    });
  }
  const stored = await allEntities(tx);
  const checked = checkEntities(
    schema,
    stored.map((e) => ({
      uid: { type: e.type, id: e.id },
      attrs: e.attrs,
      parents: e.parents,
      tags: e.tags,
    })),
  );
  for (const f of checked.fields)
    fields.push({ pointer: '/text', detail: `stored entities would no longer validate: ${f.detail}` });
  return {
    fields,
    entities: checked.entities.map((e, i) => ({ ...e, updatedAt: stored[i]?.updatedAt ?? 0 })),
  };
}

/**
 * Replaces the admin's extension of the schema. Refused, with the reasons, when
 * it does not build, or when any policy, grant or stored entity would no
 * longer validate against it; the old schema then stays in force.
 */
export async function putSchema(
  deps: PolicyDeps,
  actor: Actor,
  input: { text: string; reason: string; dryRun?: boolean | undefined },
): Promise<{ version: number; applied: boolean }> {
  if (input.dryRun) requirePolicyReader(actor, 'check schema changes');
  else requirePolicyAdmin(actor, 'change the schema');
  const probe = buildSchema(input.text, 0);
  if (!probe.ok) {
    throw new CustosError('validation_failed', `the schema is invalid: ${probe.errors[0]}`, {
      fields: probe.errors.map((detail) => ({ pointer: '/text', detail })),
    });
  }
  return deps.store.transaction(async (tx) => {
    const state = await tx.policy.state.read({ lock: true });
    const current = await storedSchema(tx);
    const { fields, entities } = await recheck(tx, probe.schema);
    if (fields.length > 0) {
      throw new CustosError(
        'validation_failed',
        `the schema would break what is stored: ${fields[0]?.detail}`,
        {
          fields,
        },
      );
    }
    if (input.dryRun || current.adminText === input.text) return { version: state.version, applied: false };
    const version = await tx.policy.state.advance();
    await tx.policy.schemas.insert(version, input.text);
    // stored entities are re-normalised, so values the new schema types differently read correctly
    const byKey = new Map((await allEntities(tx)).map((e) => [uidKey(e), e]));
    for (const e of entities) {
      const old = byKey.get(uidKey(e));
      if (old && JSON.stringify(old.attrs) !== JSON.stringify(e.attrs)) await tx.policy.entities.upsert(e);
    }
    await tx.policy.versions.insert({
      version,
      at: deps.clock.now(),
      actorType: actor.type,
      actorId: actor.id,
      kind: 'schema',
      mode: null,
      reason: input.reason,
      summary: { bytes: input.text.length },
    });
    await tx.notify({ topic: 'policy', id: 'state' });
    await tx.notify({ topic: 'policy', id: 'entity:*' });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'schema.apply',
      target: { type: 'schema', id: 'custos' },
      reason: input.reason,
      details: { version, bytes: input.text.length },
    });
    return { version, applied: true };
  });
}
