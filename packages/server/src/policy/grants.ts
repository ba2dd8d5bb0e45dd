import { type Actor, recordAuditEvent } from '../audit/index.js';
import { CustosError, type FieldError, newId, notFound } from '../core/index.js';
import type { GrantRecord, Page, Repositories } from '../storage/index.js';
import { requirePolicyAdmin, requirePolicyReader } from './access.js';
import type { PolicyDeps } from './deps.js';
import { isEntityTypeName, uidText } from './entity-uid.js';
import { conditionProblem, type GrantShape } from './grant-template.js';
import { storedSchema } from './stored-schema.js';
import { validateAgainstSchema } from './validation.js';

export interface AddGrantInput {
  readonly principal: { readonly type: 'Agent' | 'Team' | 'User'; readonly id: string };
  readonly action: string;
  readonly resource: { readonly type: string; readonly id: string };
  /** `in`: every resource inside `resource` (every tool of an MCP server); default `eq`. */
  readonly scope?: 'eq' | 'in' | undefined;
  /** A Cedar boolean expression over `principal`, `resource` and `context`. */
  readonly condition?: string | undefined;
  /** Epoch ms; the grant stops working then (just-in-time access). */
  readonly expiresAt?: number | undefined;
  readonly reason: string;
}

const field = (pointer: string, detail: string): FieldError => ({ pointer, detail });
const refuse = (fields: readonly FieldError[]) =>
  new CustosError('validation_failed', fields[0]?.detail ?? 'invalid grant', { fields });

async function principalProblem(repos: Repositories, p: AddGrantInput['principal']): Promise<string | null> {
  if (p.type === 'User') {
    const user = await repos.users.get(p.id);
    if (!user) return `unknown user \`${p.id}\``;
    if (user.status !== 'active') return `user \`${p.id}\` is deactivated`;
    return null;
  }
  if (p.type === 'Agent') {
    const agent = await repos.agents.get(p.id, { tags: false });
    if (!agent) return `unknown agent \`${p.id}\``;
    if (agent.status === 'decommissioned') return `agent \`${p.id}\` is decommissioned`;
    return null;
  }
  return (await repos.teams.get(p.id)) ? null : `unknown team \`${p.id}\``;
}

/**
 * Gives access without writing Cedar: "agent X (person P, or every agent and person of team T) may
 * `action` resource R (or every resource in R) [when condition] [until time]".
 * Stored as the parameters of a template-linked policy, validated against the
 * schema like any policy (the validator's messages are returned). A grant with
 * `expiresAt` stops applying at that time; nothing has to run.
 */
export async function addGrant(deps: PolicyDeps, actor: Actor, input: AddGrantInput): Promise<GrantRecord> {
  requirePolicyAdmin(actor, 'grant access');
  const now = deps.clock.now();
  const fields: FieldError[] = [];
  if (!isEntityTypeName(input.resource.type))
    fields.push(field('/resource/type', `\`${input.resource.type}\` is not a Cedar entity type name`));
  if (input.expiresAt !== undefined && input.expiresAt <= now)
    fields.push(field('/expiresAt', '`expiresAt` must be in the future'));
  const condition = input.condition?.trim() ? input.condition.trim() : null;
  if (condition !== null) {
    const problem = conditionProblem(condition);
    if (problem) fields.push(field('/condition', `the condition is not a Cedar expression: ${problem}`));
  }
  if (fields.length > 0) throw refuse(fields);
  return deps.store.transaction(async (tx) => {
    // people are named by id or email; the grant names them by id
    const principal =
      input.principal.type === 'User' && input.principal.id.includes('@')
        ? {
            type: 'User' as const,
            id: (await tx.users.getByEmail(input.principal.id.toLowerCase()))?.id ?? input.principal.id,
          }
        : input.principal;
    const who = await principalProblem(tx, principal);
    if (who) throw refuse([field('/principal', who)]);
    await tx.policy.state.read({ lock: true });
    const schema = await storedSchema(tx);
    if (!schema.actions.has(input.action))
      throw refuse([field('/action', `unknown action \`${input.action}\` (not in the schema)`)]);
    const shape: GrantShape = {
      id: newId('grt', now),
      principalType: principal.type,
      principalId: principal.id,
      action: input.action,
      resourceType: input.resource.type,
      resourceId: input.resource.id,
      resourceScope: input.scope ?? 'eq',
      condition,
      expiresAt: input.expiresAt ?? null,
    };
    // a grant that can never apply (e.g. a resource type the action does not take) is refused too
    const report = validateAgainstSchema(schema, [], [shape]);
    const problems = [...report.errors, ...report.warnings];
    if (problems.length > 0) {
      throw refuse(
        problems.map((e) => field('/', `the grant does not validate against the schema: ${e.message}`)),
      );
    }
    const version = await tx.policy.state.advance();
    const grant: GrantRecord = {
      ...shape,
      createdAt: now,
      createdBy: actor.id,
      reason: input.reason,
      version,
      revokedAt: null,
      revokedBy: null,
      revokeReason: null,
      revokedVersion: null,
    };
    await tx.policy.grants.insert(grant);
    const summary = grantSummary(grant);
    await tx.policy.versions.insert({
      version,
      at: now,
      actorType: actor.type,
      actorId: actor.id,
      kind: 'grant.add',
      mode: null,
      reason: input.reason,
      summary,
    });
    await tx.notify({ topic: 'policy', id: 'state' });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'grant.add',
      target: { type: 'grant', id: grant.id },
      reason: input.reason,
      details: { version, ...summary },
    });
    return grant;
  });
}

/** What a grant says, for the history and the audit log. */
function grantSummary(g: GrantRecord): Record<string, unknown> {
  return {
    grant: g.id,
    principal: uidText({ type: g.principalType, id: g.principalId }),
    action: g.action,
    resource: `${g.resourceScope === 'in' ? 'in ' : ''}${uidText({ type: g.resourceType, id: g.resourceId })}`,
    condition: g.condition,
    expiresAt: g.expiresAt === null ? null : new Date(g.expiresAt).toISOString(),
  };
}

/** Revokes a grant; decisions stop using it at once. */
export async function revokeGrant(
  deps: PolicyDeps,
  actor: Actor,
  id: string,
  reason: string,
): Promise<GrantRecord> {
  requirePolicyAdmin(actor, 'revoke grants');
  return deps.store.transaction(async (tx) => {
    await tx.policy.state.read({ lock: true });
    const existing = await tx.policy.grants.get(id);
    if (!existing) throw notFound('grant', id);
    if (existing.revokedAt !== null)
      throw new CustosError('invalid_transition', `grant \`${id}\` is already revoked`);
    const version = await tx.policy.state.advance();
    const now = deps.clock.now();
    const revoked = await tx.policy.grants.revoke(id, { at: now, by: actor.id, reason, version });
    if (!revoked) throw new CustosError('invalid_transition', `grant \`${id}\` is already revoked`);
    await tx.policy.versions.insert({
      version,
      at: now,
      actorType: actor.type,
      actorId: actor.id,
      kind: 'grant.revoke',
      mode: null,
      reason,
      summary: grantSummary(revoked),
    });
    await tx.notify({ topic: 'policy', id: 'state' });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'grant.revoke',
      target: { type: 'grant', id },
      reason,
      details: { version, ...grantSummary(revoked) },
    });
    return revoked;
  });
}

export interface GrantQuery {
  readonly principal?: { readonly type: 'Agent' | 'Team' | 'User'; readonly id: string } | undefined;
  /** Only grants in force now (not revoked, not ended). */
  readonly live?: boolean | undefined;
  readonly cursor?: string | undefined;
  readonly limit: number;
}

export function listGrants(deps: PolicyDeps, actor: Actor, query: GrantQuery): Promise<Page<GrantRecord>> {
  requirePolicyReader(actor, 'read grants');
  return deps.store.policy.grants.list({
    principalType: query.principal?.type,
    principalId: query.principal?.id,
    liveAt: query.live ? deps.clock.now() : undefined,
    cursor: query.cursor,
    limit: query.limit,
  });
}

export async function getGrant(deps: PolicyDeps, actor: Actor, id: string): Promise<GrantRecord> {
  requirePolicyReader(actor, 'read grants');
  const grant = await deps.store.policy.grants.get(id);
  if (!grant) throw notFound('grant', id);
  return grant;
}
