import { type Actor, recordAuditEvent } from '../audit/index.js';
import { type Clock, CustosError, newId, notFound } from '../core/index.js';
import { requireAgentAccess } from '../identity/index.js';
import type {
  FindingFilter,
  FindingRecord,
  FindingStatus,
  Page,
  Repositories,
  Store,
  TxRepositories,
} from '../storage/index.js';
import type { ActivityEvent } from './activity-event.js';
import type { Signal } from './detectors/index.js';
import { type Severity, severityRank } from './settings.js';

const MAX_EVIDENCE = 20;

/** The actor of everything the monitor does on its own (findings, automatic responses). */
export const MONITOR_ACTOR: Actor = {
  type: 'system',
  id: 'custos-monitor',
  role: 'admin',
  userId: null,
  requestId: null,
};

/** An event as a finding shows it: enough to read, and its sequence number to find it in the audit log. */
export function evidenceOf(e: ActivityEvent): Record<string, unknown> {
  return {
    seq: e.seq,
    at: new Date(e.at).toISOString(),
    kind: e.kind,
    action: e.action,
    resource: e.resource,
    outcome: e.outcome,
    sourceAddress: e.sourceAddress,
    ...(e.credential ? { credential: e.credential } : {}),
    ...(e.tokenId ? { tokenId: e.tokenId } : {}),
    ...(e.onBehalfOf ? { onBehalfOf: e.onBehalfOf } : {}),
    ...(e.bytes > 0 ? { bytes: e.bytes } : {}),
  };
}

/**
 * Records a signal as a finding, inside the pipeline's transaction: a repeat
 * of an open (or acknowledged) finding with the same key updates it (newest
 * evidence, one more occurrence, the higher severity); otherwise a new open
 * finding is created and its raising audited. Returns the finding and whether it is new.
 */
export async function raiseFinding(
  tx: TxRepositories,
  clock: Clock,
  s: Signal,
): Promise<{ finding: FindingRecord; created: boolean }> {
  const now = clock.now();
  const evidence = s.evidence.slice(-MAX_EVIDENCE).map(evidenceOf);
  const existing = await tx.monitor.findings.openByKey(s.key);
  if (existing) {
    const severity: Severity =
      severityRank(s.severity) > severityRank(existing.severity) ? s.severity : existing.severity;
    const merged = [...existing.evidence, ...evidence].slice(-MAX_EVIDENCE);
    await tx.monitor.findings.repeat(existing.id, { severity, lastSeen: s.at, evidence: merged }, now);
    return {
      finding: {
        ...existing,
        severity,
        lastSeen: s.at,
        evidence: merged,
        occurrences: existing.occurrences + 1,
      },
      created: false,
    };
  }
  const finding: FindingRecord = {
    id: newId('fnd', now),
    detector: s.detector,
    severity: s.severity,
    agentId: s.agentId,
    dedupKey: s.key,
    status: 'open',
    title: s.title,
    explanation: s.explanation,
    evidence,
    occurrences: 1,
    firstSeen: s.at,
    lastSeen: s.at,
    response: null,
    statusReason: null,
    statusBy: null,
    createdAt: now,
    updatedAt: now,
  };
  await tx.monitor.findings.insert(finding);
  await recordAuditEvent(tx, clock, MONITOR_ACTOR, {
    action: 'finding.raise',
    target: { type: 'agent', id: s.agentId },
    reason: s.explanation,
    details: {
      findingId: finding.id,
      detector: s.detector,
      severity: s.severity,
      title: s.title,
      evidenceSeqs: evidence.map((e) => e.seq),
    },
  });
  return { finding, created: true };
}

/** What an admin can do with a finding, and the statuses each applies to. */
export const FINDING_ACTIONS = {
  acknowledge: { from: ['open'], to: 'acknowledged' },
  resolve: { from: ['open', 'acknowledged'], to: 'resolved' },
  false_positive: { from: ['open', 'acknowledged'], to: 'false_positive' },
} as const satisfies Record<string, { from: readonly FindingStatus[]; to: FindingStatus }>;
export type FindingAction = keyof typeof FINDING_ACTIONS;

async function visibleFinding(repos: Repositories, actor: Actor, id: string): Promise<FindingRecord> {
  if (actor.role === 'resource_server' || actor.role === 'agent' || actor.role === 'none')
    throw new CustosError('forbidden', 'this token cannot read findings');
  const finding = await repos.monitor.findings.get(id);
  if (!finding) throw notFound('finding', id);
  if (actor.role === 'owner') {
    const agent = await repos.agents.get(finding.agentId, { tags: false });
    if (!agent) throw new CustosError('forbidden', `finding \`${id}\` is about an agent you do not own`);
    requireAgentAccess(actor, agent);
  }
  return finding;
}

/** Lists findings, newest first; an `owner` token sees only those about its own agents. */
export async function listFindings(
  deps: { store: Store },
  actor: Actor,
  filter: FindingFilter,
): Promise<Page<FindingRecord>> {
  if (actor.role === 'resource_server') throw new CustosError('forbidden', 'this token cannot read findings');
  return deps.store.monitor.findings.list(
    actor.role === 'owner' ? { ...filter, ownerId: actor.userId ?? '' } : filter,
  );
}

export function getFinding(deps: { store: Store }, actor: Actor, id: string): Promise<FindingRecord> {
  return visibleFinding(deps.store, actor, id);
}

/**
 * Acknowledges, resolves or marks a finding as a false positive, with a reason,
 * audited. Admins may change any finding, owners those about their agents,
 * auditors none. A finding not in a status the action applies to is refused.
 */
export async function changeFinding(
  deps: { store: Store; clock: Clock },
  actor: Actor,
  id: string,
  action: FindingAction,
  reason: string | null,
): Promise<FindingRecord> {
  if (actor.role === 'auditor')
    throw new CustosError('forbidden', 'auditor tokens are read-only: cannot change findings');
  const rule = FINDING_ACTIONS[action];
  return deps.store.transaction(async (tx) => {
    const before = await visibleFinding(tx, actor, id);
    const after = await tx.monitor.findings.setStatus(
      id,
      rule.from,
      rule.to,
      { reason, by: actor.id },
      deps.clock.now(),
    );
    if (!after) {
      throw new CustosError(
        'invalid_transition',
        `cannot ${action.replace('_', ' ')} finding \`${id}\`: it is ${before.status.replace('_', ' ')}`,
      );
    }
    await recordAuditEvent(tx, deps.clock, actor, {
      action: `finding.${action}`,
      target: { type: 'agent', id: before.agentId },
      reason,
      changes: { status: { from: before.status, to: after.status } },
      details: { findingId: id, detector: before.detector },
    });
    return after;
  });
}
