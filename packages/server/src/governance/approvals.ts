import { createHash } from 'node:crypto';
import { type Actor, recordAuditEvent } from '../audit/index.js';
import { type Clock, CustosError, isId, newId, notFound } from '../core/index.js';
import { type ApprovalRecord, type ApprovalStatus, canonicalJson, type Store } from '../storage/index.js';

export interface ApprovalDeps {
  readonly store: Store;
  readonly clock: Clock;
  /** How long a request (and the reference once approved) stays usable, in ms. */
  readonly ttlMs: number;
}

/** The exact action an approval is for; a retry must present the same. */
export interface ApprovedAction {
  readonly agentId: string;
  readonly personId: string | null;
  readonly action: string;
  readonly resource: { readonly type: string; readonly id: string };
  /** Tool arguments, or an HTTP call's path and query. */
  readonly args: unknown;
}

/** SHA-256 of the RFC 8785 canonical form of the action: what binds a reference to it. */
export function approvalBinding(a: ApprovedAction): string {
  const text = canonicalJson({
    agent: a.agentId,
    person: a.personId,
    action: a.action,
    resource: { type: a.resource.type, id: a.resource.id },
    args: a.args ?? null,
  });
  return createHash('sha256').update(text).digest('base64url');
}

const GATEWAY_ACTOR = (requestId: string | null): Actor => ({
  type: 'system',
  id: 'custos-gateway',
  role: 'admin',
  userId: null,
  requestId,
});

/**
 * Opens (or finds the still-pending) approval request for an action a policy
 * refused pending approval. The approver is the person a delegated call acts
 * for, or the agent's owner, as the policy's `@approval("person"|"owner")` says.
 */
export async function requestApproval(
  deps: ApprovalDeps,
  input: ApprovedAction & {
    readonly kind: 'person' | 'owner';
    readonly policies: readonly string[];
    /** What the approver is shown (upstream, tool or route, arguments). */
    readonly shown: Readonly<Record<string, unknown>>;
    readonly requestId: string | null;
  },
): Promise<ApprovalRecord> {
  const binding = approvalBinding(input);
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const kind = input.kind === 'person' && input.personId ? 'person' : 'owner';
    const pending = await tx.approvals.list({ agentId: input.agentId, status: 'pending', limit: 100 });
    const same = pending.find((a) => a.binding === binding && a.approverKind === kind && a.expiresAt > now);
    if (same) return same;
    const agent = await tx.agents.get(input.agentId, { tags: false });
    if (!agent) throw notFound('agent', input.agentId);
    const approval: ApprovalRecord = {
      id: newId('apr', now),
      agentId: input.agentId,
      personId: input.personId,
      approverId: kind === 'person' ? (input.personId as string) : agent.ownerId,
      approverKind: kind,
      action: input.action,
      resource: input.resource,
      request: input.shown,
      binding,
      policies: [...input.policies],
      status: 'pending',
      createdAt: now,
      expiresAt: now + deps.ttlMs,
      decidedAt: null,
      decidedBy: null,
      reason: null,
      usedAt: null,
    };
    await tx.approvals.insert(approval);
    await recordAuditEvent(tx, deps.clock, GATEWAY_ACTOR(input.requestId), {
      action: 'approval.request',
      target: { type: 'approval', id: approval.id },
      details: {
        agent: approval.agentId,
        ...(approval.personId ? { onBehalfOf: approval.personId } : {}),
        approver: approval.approverId,
        approverKind: approval.approverKind,
        action: approval.action,
        resource: `${approval.resource.type}::${JSON.stringify(approval.resource.id)}`,
        binding,
        policies: approval.policies,
      },
    });
    return approval;
  });
}

/** The status an approval shows at `now` (`expired` once past its expiry unless used or denied). */
export function effectiveStatus(a: ApprovalRecord, now: number): ApprovalStatus | 'expired' {
  if ((a.status === 'pending' || a.status === 'approved') && a.expiresAt <= now) return 'expired';
  return a.status;
}

function mayRead(actor: Actor, a: ApprovalRecord, ownerId: string | null): boolean {
  if (actor.role === 'admin' || actor.role === 'auditor') return true;
  return actor.userId !== null && (actor.userId === a.approverId || actor.userId === ownerId);
}

export async function getApproval(deps: ApprovalDeps, actor: Actor, id: string): Promise<ApprovalRecord> {
  const approval = await deps.store.approvals.get(id);
  if (!approval) throw notFound('approval request', id);
  const agent = await deps.store.agents.get(approval.agentId, { tags: false });
  if (!mayRead(actor, approval, agent?.ownerId ?? null))
    throw new CustosError('forbidden', `approval request \`${id}\` is for another person`);
  return approval;
}

export async function listApprovals(
  deps: ApprovalDeps,
  actor: Actor,
  filter: { status?: ApprovalStatus | undefined; agent?: string | undefined; limit: number },
): Promise<readonly ApprovalRecord[]> {
  if (actor.role !== 'admin' && actor.role !== 'auditor' && !actor.userId) return [];
  const approverId =
    actor.role === 'admin' || actor.role === 'auditor' ? undefined : (actor.userId ?? undefined);
  return deps.store.approvals.list({
    status: filter.status,
    agentId: filter.agent,
    approverId,
    limit: filter.limit,
  });
}

/**
 * The designated approver (the person, or the agent's owner) approves or
 * denies a pending request. Nobody else may, admins included: an approval is
 * that person's word. Audited.
 */
export async function decideApproval(
  deps: ApprovalDeps,
  actor: Actor,
  id: string,
  verdict: 'approve' | 'deny',
  reason: string | null,
): Promise<ApprovalRecord> {
  return deps.store.transaction(async (tx) => {
    const existing = await tx.approvals.get(id);
    if (!existing) throw notFound('approval request', id);
    if (actor.userId !== existing.approverId) {
      throw new CustosError(
        'forbidden',
        `only the ${existing.approverKind === 'person' ? 'person the agent acts for' : "agent's owner"} (\`${existing.approverId}\`) can decide this request`,
      );
    }
    const now = deps.clock.now();
    const status = effectiveStatus(existing, now);
    if (status !== 'pending')
      throw new CustosError('invalid_transition', `approval request \`${id}\` is ${status}, not pending`);
    const decided = await tx.approvals.decide(
      id,
      verdict === 'approve' ? 'approved' : 'denied',
      actor.userId,
      reason,
      now,
    );
    if (!decided)
      throw new CustosError('invalid_transition', `approval request \`${id}\` is no longer pending`);
    await recordAuditEvent(tx, deps.clock, actor, {
      action: verdict === 'approve' ? 'approval.approve' : 'approval.deny',
      target: { type: 'approval', id },
      reason,
      details: {
        agent: decided.agentId,
        ...(decided.personId ? { onBehalfOf: decided.personId } : {}),
        action: decided.action,
        resource: `${decided.resource.type}::${JSON.stringify(decided.resource.id)}`,
        binding: decided.binding,
      },
    });
    return decided;
  });
}

/** Why a presented reference cannot be used (the text the agent gets), or null when it was used now. */
export async function useApproval(
  deps: ApprovalDeps,
  id: string,
  action: ApprovedAction,
  /** Whose approval the call needs now (the policies that refuse it name them). */
  kind: 'person' | 'owner',
  requestId: string | null,
): Promise<string | null> {
  if (!isId('apr', id)) return 'the approval reference is not one (`apr_` and 26 letters or digits)';
  return deps.store.transaction(async (tx) => {
    const approval = await tx.approvals.get(id);
    if (!approval || approval.agentId !== action.agentId) return `unknown approval reference \`${id}\``;
    if (approval.binding !== approvalBinding(action))
      return `approval \`${id}\` is for a different action (another tool, route or arguments)`;
    const needed = kind === 'person' && action.personId ? 'person' : 'owner';
    if (approval.approverKind !== needed) {
      return needed === 'person'
        ? `approval \`${id}\` was given by the agent's owner, not the person the agent acts for, whose approval this call needs`
        : `approval \`${id}\` was given by the person the agent acts for, not the agent's owner, whose approval this call needs`;
    }
    if (needed === 'owner') {
      // the agent may have changed hands since: only its owner now can have approved
      const agent = await tx.agents.get(action.agentId, { tags: false });
      if (agent?.ownerId !== approval.approverId)
        return `approval \`${id}\` was given by a former owner of the agent`;
    }
    const now = deps.clock.now();
    const status = effectiveStatus(approval, now);
    if (status === 'used') return `approval \`${id}\` has already been used`;
    if (status === 'expired') return `approval \`${id}\` has expired`;
    if (status === 'denied') return `approval \`${id}\` was denied`;
    if (status === 'pending') return `approval \`${id}\` is still pending`;
    if (!(await tx.approvals.use(id, now))) return `approval \`${id}\` has already been used`;
    await recordAuditEvent(tx, deps.clock, GATEWAY_ACTOR(requestId), {
      action: 'approval.use',
      target: { type: 'approval', id },
      details: { agent: approval.agentId, binding: approval.binding },
    });
    return null;
  });
}

/** An approval as the API, the CLI and the gateway's pending answers show it. */
export function approvalView(a: ApprovalRecord, now: number): Record<string, unknown> {
  return {
    id: a.id,
    status: effectiveStatus(a, now),
    agent: a.agentId,
    onBehalfOf: a.personId,
    approver: a.approverId,
    approverKind: a.approverKind,
    action: a.action,
    resource: a.resource,
    request: a.request,
    policies: a.policies,
    createdAt: new Date(a.createdAt).toISOString(),
    expiresAt: new Date(a.expiresAt).toISOString(),
    decidedAt: a.decidedAt === null ? null : new Date(a.decidedAt).toISOString(),
    decidedBy: a.decidedBy,
    reason: a.reason,
    usedAt: a.usedAt === null ? null : new Date(a.usedAt).toISOString(),
  };
}
