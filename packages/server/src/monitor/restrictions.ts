import { type Actor, recordAuditEvent } from '../audit/index.js';
import { type Clock, notFound } from '../core/index.js';
import { requireAdmin } from '../identity/index.js';
import type { RestrictionRecord, Store, TxRepositories } from '../storage/index.js';

/**
 * Marks an agent's sensitive calls as needing a human's approval (a response
 * rule's `require_approval`), inside the caller's transaction; announced on the
 * change feed so enforcement points re-read it. Audited as `agent.restrict`.
 */
export async function restrictAgent(
  tx: TxRepositories,
  clock: Clock,
  actor: Actor,
  agentId: string,
  fields: { findingId: string | null; reason: string },
): Promise<RestrictionRecord> {
  const record: RestrictionRecord = {
    agentId,
    mode: 'approval_required',
    findingId: fields.findingId,
    reason: fields.reason,
    createdBy: actor.id,
    createdAt: clock.now(),
  };
  await tx.monitor.restrictions.put(record);
  await tx.notify({ topic: 'agent', id: agentId });
  await recordAuditEvent(tx, clock, actor, {
    action: 'agent.restrict',
    target: { type: 'agent', id: agentId },
    reason: fields.reason,
    details: { mode: record.mode, findingId: fields.findingId },
  });
  return record;
}

/** Lifts an agent's restriction (admin), audited as `agent.unrestrict`. */
export async function liftRestriction(
  deps: { store: Store; clock: Clock },
  actor: Actor,
  agentId: string,
  reason: string,
): Promise<RestrictionRecord> {
  requireAdmin(actor, 'lift restrictions');
  return deps.store.transaction(async (tx) => {
    const existing = await tx.monitor.restrictions.get(agentId);
    if (!existing || !(await tx.monitor.restrictions.delete(agentId)))
      throw notFound('restriction on agent', agentId);
    await tx.notify({ topic: 'agent', id: agentId });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'agent.unrestrict',
      target: { type: 'agent', id: agentId },
      reason,
      details: { mode: existing.mode, findingId: existing.findingId },
    });
    return existing;
  });
}

/**
 * Whether an agent's sensitive calls must wait for a human's approval right
 * now. For enforcement points (the gateway) to consult; reads the store.
 */
export async function requiresApproval(store: Store, agentId: string): Promise<boolean> {
  return (await store.monitor.restrictions.get(agentId)) !== null;
}
