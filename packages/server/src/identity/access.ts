import type { Actor } from '../audit/index.js';
import { CustosError } from '../core/index.js';
import type { AgentRecord } from '../storage/index.js';

/** Refuses every change by an `auditor`, and by an `owner` unless `ownersMay` allows it. */
export function requireWriter(actor: Actor, what: string, ownersMay = false): void {
  if (actor.role === 'auditor')
    throw new CustosError('forbidden', `auditor tokens are read-only: cannot ${what}`);
  if (actor.role === 'owner' && !ownersMay) throw new CustosError('forbidden', `owner tokens cannot ${what}`);
}

/** Refuses anything but an `admin`. */
export function requireAdmin(actor: Actor, what: string): void {
  if (actor.role !== 'admin') throw new CustosError('forbidden', `only admin tokens can ${what}`);
}

/**
 * An `owner` sees and manages only the agents it owns. Reading another owner's
 * agent answers 403 (the id was given, so its existence is no secret to hide).
 */
export function requireAgentAccess(actor: Actor, agent: AgentRecord): void {
  if (actor.role === 'owner' && agent.ownerId !== actor.userId) {
    throw new CustosError('forbidden', `agent \`${agent.id}\` belongs to another owner`);
  }
}
