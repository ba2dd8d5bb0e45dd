import { type Actor, diffFields, recordAuditEvent } from '../audit/index.js';
import { CustosError, newId, notFound } from '../core/index.js';
import {
  type AgentFilter,
  type AgentPatch,
  type AgentRecord,
  type Page,
  type Repositories,
  type RiskLevel,
  UniqueViolation,
  type UserRecord,
} from '../storage/index.js';
import { requireAgentAccess, requireWriter } from './access.js';
import type { IdentityDeps } from './deps.js';
import { resolveUser } from './users.js';

export const DEFAULT_ENVIRONMENT = 'default';
export const DEFAULT_RISK_LEVEL: RiskLevel = 'medium';

export interface CreateAgentInput {
  readonly name: string;
  /** Id or email of the accountable human. */
  readonly owner: string;
  readonly team?: string | undefined;
  readonly purpose?: string | undefined;
  readonly environment?: string | undefined;
  readonly tags?: Readonly<Record<string, string>> | undefined;
  readonly riskLevel?: RiskLevel | undefined;
  /** Epoch ms; defaults to now + the configured agent lifetime. */
  readonly expiresAt?: number | undefined;
  readonly allowedScopes?: readonly string[] | undefined;
  readonly allowedAudiences?: readonly string[] | undefined;
  readonly requireDpop?: boolean | undefined;
}

const fieldError = (field: string, detail: string) =>
  new CustosError('validation_failed', detail, { fields: [{ pointer: `/${field}`, detail }] });

async function activeOwner(tx: Repositories, actor: Actor, ref: string): Promise<UserRecord> {
  const owner = await resolveUser(tx, ref, 'owner');
  if (owner.status !== 'active') throw fieldError('owner', `owner \`${ref}\` is deactivated`);
  if (actor.role === 'owner' && owner.id !== actor.userId) {
    throw new CustosError('forbidden', 'owner tokens can only assign agents to their own user');
  }
  return owner;
}

async function existingTeam(tx: Repositories, team: string | null | undefined): Promise<void> {
  if (team && !(await tx.teams.get(team))) throw fieldError('team', `unknown team \`${team}\``);
}

function futureExpiry(deps: IdentityDeps, expiresAt: number): void {
  if (expiresAt <= deps.clock.now()) throw fieldError('expiresAt', '`expiresAt` must be in the future');
}

function nameConflict(name: string, environment: string, error: unknown): CustosError {
  return new CustosError(
    'conflict',
    `an agent named \`${name}\` already exists in environment \`${environment}\``,
    {
      cause: error,
    },
  );
}

/**
 * Registers an agent under an accountable, active owner. Names are unique per
 * environment among agents that are not decommissioned (enforced by the store,
 * so concurrent creators cannot both win).
 */
export async function createAgent(
  deps: IdentityDeps,
  actor: Actor,
  input: CreateAgentInput,
): Promise<AgentRecord> {
  requireWriter(actor, 'create agents', true);
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const owner = await activeOwner(tx, actor, input.owner);
    await existingTeam(tx, input.team);
    const expiresAt = input.expiresAt ?? now + deps.settings.agentDefaultTtlMs;
    futureExpiry(deps, expiresAt);
    const agent = {
      id: newId('agt', now),
      name: input.name,
      ownerId: owner.id,
      team: input.team ?? null,
      purpose: input.purpose ?? '',
      environment: input.environment ?? DEFAULT_ENVIRONMENT,
      tags: input.tags ?? {},
      riskLevel: input.riskLevel ?? DEFAULT_RISK_LEVEL,
      status: 'active' as const,
      statusReason: null,
      expiresAt,
      allowedScopes: input.allowedScopes ?? [],
      allowedAudiences: input.allowedAudiences ?? [],
      requireDpop: input.requireDpop ?? false,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await tx.agents.insert(agent);
    } catch (error) {
      if (error instanceof UniqueViolation) throw nameConflict(agent.name, agent.environment, error);
      throw error;
    }
    await tx.agents.addStatusChange({
      agentId: agent.id,
      at: now,
      fromStatus: null,
      toStatus: 'active',
      reason: 'created',
      actor: actor.id,
    });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'agent.create',
      target: { type: 'agent', id: agent.id },
      details: {
        name: agent.name,
        ownerId: agent.ownerId,
        team: agent.team,
        environment: agent.environment,
        riskLevel: agent.riskLevel,
        expiresAt: agent.expiresAt,
      },
    });
    return { ...agent, ownerEmail: owner.email };
  });
}

/** Reads one agent; an `owner` token may read only its own. */
export async function getAgent(deps: IdentityDeps, actor: Actor, id: string): Promise<AgentRecord> {
  const agent = await deps.store.agents.get(id);
  if (!agent) throw notFound('agent', id);
  requireAgentAccess(actor, agent);
  return agent;
}

/** Searches the inventory; an `owner` token only ever sees its own agents. */
export function listAgents(
  deps: IdentityDeps,
  actor: Actor,
  filter: AgentFilter,
): Promise<Page<AgentRecord>> {
  if (actor.role === 'owner') {
    if (filter.ownerId !== undefined && filter.ownerId !== actor.userId)
      return Promise.resolve({ items: [], nextCursor: null });
    return deps.store.agents.list({ ...filter, ownerId: actor.userId ?? '' });
  }
  return deps.store.agents.list(filter);
}

export interface UpdateAgentInput {
  readonly name?: string | undefined;
  readonly owner?: string | undefined;
  readonly team?: string | null | undefined;
  readonly purpose?: string | undefined;
  readonly environment?: string | undefined;
  readonly tags?: Readonly<Record<string, string>> | undefined;
  readonly riskLevel?: RiskLevel | undefined;
  readonly expiresAt?: number | undefined;
  readonly allowedScopes?: readonly string[] | undefined;
  readonly allowedAudiences?: readonly string[] | undefined;
  readonly requireDpop?: boolean | undefined;
}

const UPDATABLE = [
  'name',
  'ownerId',
  'team',
  'purpose',
  'environment',
  'tags',
  'riskLevel',
  'expiresAt',
  'allowedScopes',
  'allowedAudiences',
  'requireDpop',
] as const;

/** Changes an agent's descriptive fields (not its status: see `transitionAgent`). */
export async function updateAgent(
  deps: IdentityDeps,
  actor: Actor,
  id: string,
  input: UpdateAgentInput,
): Promise<AgentRecord> {
  requireWriter(actor, 'update agents', true);
  return deps.store.transaction(async (tx) => {
    const before = await tx.agents.get(id, { lock: true });
    if (!before) throw notFound('agent', id);
    requireAgentAccess(actor, before);
    if (before.status === 'decommissioned') {
      throw new CustosError(
        'invalid_transition',
        `agent \`${id}\` is decommissioned and can no longer change`,
      );
    }
    const patch: { -readonly [K in keyof AgentPatch]: AgentPatch[K] } = {};
    if (input.owner !== undefined) {
      if (actor.role === 'owner')
        throw new CustosError('forbidden', 'owner tokens cannot transfer ownership');
      patch.ownerId = (await activeOwner(tx, actor, input.owner)).id;
    }
    if (input.team !== undefined) {
      await existingTeam(tx, input.team);
      patch.team = input.team;
    }
    if (input.expiresAt !== undefined) {
      futureExpiry(deps, input.expiresAt);
      patch.expiresAt = input.expiresAt;
    }
    if (input.name !== undefined) patch.name = input.name;
    if (input.purpose !== undefined) patch.purpose = input.purpose;
    if (input.environment !== undefined) patch.environment = input.environment;
    if (input.tags !== undefined) patch.tags = input.tags;
    if (input.riskLevel !== undefined) patch.riskLevel = input.riskLevel;
    if (input.allowedScopes !== undefined) patch.allowedScopes = input.allowedScopes;
    if (input.allowedAudiences !== undefined) patch.allowedAudiences = input.allowedAudiences;
    if (input.requireDpop !== undefined) patch.requireDpop = input.requireDpop;
    let after: AgentRecord | null;
    try {
      after = await tx.agents.update(id, patch, deps.clock.now());
    } catch (error) {
      if (error instanceof UniqueViolation) {
        throw nameConflict(patch.name ?? before.name, patch.environment ?? before.environment, error);
      }
      throw error;
    }
    if (!after) throw notFound('agent', id);
    await tx.notify({ topic: 'agent', id });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'agent.update',
      target: { type: 'agent', id },
      changes: diffFields(before, after, UPDATABLE),
    });
    return after;
  });
}
