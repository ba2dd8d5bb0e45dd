import { type Actor, recordAuditEvent } from '../audit/index.js';
import { type Clock, CustosError, notFound } from '../core/index.js';
import { applyTransition, requireAgentAccess, requireWriter } from '../identity/index.js';
import type { AgentRecord, Store } from '../storage/index.js';

export interface KillResult {
  readonly agent: AgentRecord;
  /** Kids of the keys revoked now. */
  readonly revokedKeys: readonly string[];
  /** Tokens revoked now (by the suspension, and any left over). */
  readonly revokedTokens: number;
}

/**
 * The kill switch: in one transaction, suspends the agent (which revokes every
 * token it holds, whatever key it was obtained with), revokes all its keys (the
 * credential is presumed compromised: resuming the agent later needs a new
 * key), and announces the change on the change feed. Every gateway drops the
 * agent's cached tokens and sessions on that announcement (PostgreSQL
 * `LISTEN/NOTIFY` across nodes), and introspection reads the store, so the
 * agent is stopped everywhere as soon as this returns. Killing a suspended
 * agent revokes what is left; a decommissioned agent is refused. Audited as
 * `agent.suspend` (when it was active) and `agent.kill`.
 */
export async function killAgent(
  deps: { store: Store; clock: Clock },
  actor: Actor,
  agentId: string,
  reason: string,
): Promise<KillResult> {
  requireWriter(actor, 'kill agents', true);
  return deps.store.transaction(async (tx) => {
    const before = await tx.agents.get(agentId, { lock: true });
    if (!before) throw notFound('agent', agentId);
    requireAgentAccess(actor, before);
    if (before.status === 'decommissioned') {
      throw new CustosError('invalid_transition', `cannot kill agent \`${agentId}\`: it is decommissioned`);
    }
    const at = deps.clock.now();
    // the tokens first, so the count is the kill's (the suspension would revoke them too)
    const revokedTokens = await tx.issuedTokens.revokeForAgent(agentId, at);
    const agent =
      before.status === 'active'
        ? await applyTransition(tx, deps.clock, actor, agentId, 'suspend', reason)
        : before;
    const revokedKeys: string[] = [];
    for (const key of await tx.agentKeys.list(agentId)) {
      if (key.revokedAt !== null) continue;
      if (await tx.agentKeys.revoke(agentId, key.kid, at)) revokedKeys.push(key.kid);
    }
    await tx.notify({ topic: 'agent', id: agentId });
    await tx.notify({ topic: 'agent_key', id: agentId });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'agent.kill',
      target: { type: 'agent', id: agentId },
      reason,
      ...(before.status === agent.status
        ? {}
        : { changes: { status: { from: before.status, to: agent.status } } }),
      details: { revokedKeys, revokedTokens },
    });
    return { agent, revokedKeys, revokedTokens };
  });
}
