import { type Actor, recordAuditEvent } from '../audit/index.js';
import { type Clock, CustosError, notFound } from '../core/index.js';
import type { AgentRecord, AgentStatus, AgentStatusChange, TxRepositories } from '../storage/index.js';
import { requireAgentAccess, requireWriter } from './access.js';
import type { IdentityDeps } from './deps.js';

export type AgentTransition = 'suspend' | 'resume' | 'decommission';

/**
 * The lifecycle: `active ⇄ suspended`, and `active | suspended → decommissioned`,
 * which is terminal. Every other move is refused.
 */
export const TRANSITIONS: Readonly<
  Record<AgentTransition, { from: readonly AgentStatus[]; to: AgentStatus }>
> = {
  suspend: { from: ['active'], to: 'suspended' },
  resume: { from: ['suspended'], to: 'active' },
  decommission: { from: ['active', 'suspended'], to: 'decommissioned' },
};

/**
 * Moves an agent through its lifecycle with a reason, recorded in the status
 * history and the audit log in the same transaction. A compare-and-set on the
 * status makes concurrent transitions safe: exactly one of them wins.
 */
export async function transitionAgent(
  deps: IdentityDeps,
  actor: Actor,
  id: string,
  transition: AgentTransition,
  reason: string,
): Promise<AgentRecord> {
  requireWriter(actor, `${transition} agents`, true);
  return deps.store.transaction((tx) => applyTransition(tx, deps.clock, actor, id, transition, reason));
}

/**
 * The body of {@link transitionAgent} inside a caller's transaction (the kill
 * switch suspends and revokes keys atomically). The caller checks the actor's
 * role; this checks access to the agent and the move itself.
 */
export async function applyTransition(
  tx: TxRepositories,
  clock: Clock,
  actor: Actor,
  id: string,
  transition: AgentTransition,
  reason: string,
): Promise<AgentRecord> {
  const rule = TRANSITIONS[transition];
  const before = await tx.agents.get(id, { lock: true });
  if (!before) throw notFound('agent', id);
  requireAgentAccess(actor, before);
  const refuse = (status: AgentStatus) =>
    new CustosError('invalid_transition', `cannot ${transition} agent \`${id}\`: it is ${status}`);
  if (!rule.from.includes(before.status)) throw refuse(before.status);
  const at = clock.now();
  const after = await tx.agents.transition(id, rule.from, rule.to, reason, at);
  if (!after) throw refuse((await tx.agents.get(id))?.status ?? before.status);
  // Stopping an agent ends its tokens for good: resuming it later must not revive them.
  const revokedTokens = rule.to === 'active' ? 0 : await tx.issuedTokens.revokeForAgent(id, at);
  await tx.notify({ topic: 'agent', id });
  await tx.agents.addStatusChange({
    agentId: id,
    at,
    fromStatus: before.status,
    toStatus: rule.to,
    reason,
    actor: actor.id,
  });
  await recordAuditEvent(tx, clock, actor, {
    action: `agent.${transition}`,
    target: { type: 'agent', id },
    reason,
    changes: { status: { from: before.status, to: after.status } },
    ...(revokedTokens > 0 ? { details: { revokedTokens } } : {}),
  });
  return after;
}

/** The agent's status changes, oldest first. */
export async function agentStatusHistory(
  deps: IdentityDeps,
  actor: Actor,
  id: string,
): Promise<readonly AgentStatusChange[]> {
  const agent = await deps.store.agents.get(id);
  if (!agent) throw notFound('agent', id);
  requireAgentAccess(actor, agent);
  return deps.store.agents.statusHistory(id);
}
