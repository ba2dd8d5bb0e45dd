import type { Actor } from '../audit/index.js';
import { requirePolicyReader } from './access.js';
import type { DecisionRequest, RecordedRequest } from './decision.js';
import type { PolicyDeps } from './deps.js';
import { type PolicySetInput, proposedMembers } from './policy-sets.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUid = (v: unknown): v is { type: string; id: string } =>
  isObject(v) && typeof v.type === 'string' && typeof v.id === 'string';

/** A recorded request, when the audit details hold a replayable one. */
function readRequest(value: unknown): RecordedRequest | null {
  if (
    !isObject(value) ||
    !isUid(value.principal) ||
    !isUid(value.resource) ||
    typeof value.action !== 'string'
  ) {
    return null;
  }
  const obj = (v: unknown) => (isObject(v) ? v : undefined);
  return {
    principal: { type: value.principal.type, id: value.principal.id },
    action: value.action,
    resource: { type: value.resource.type, id: value.resource.id },
    ...(obj(value.context) ? { context: obj(value.context) } : {}),
    ...(obj(value.principalProperties) ? { principalProperties: obj(value.principalProperties) } : {}),
    ...(obj(value.resourceProperties) ? { resourceProperties: obj(value.resourceProperties) } : {}),
  };
}

export interface RecordedDecision {
  readonly seq: number;
  readonly at: number;
  readonly request: RecordedRequest;
  readonly allowed: boolean;
}

/** The decisions an audit event recorded: one for `policy.decision`, one per scope/audience for `token.issue`. */
export function decisionsOf(row: {
  seq: number;
  at: number;
  action: string;
  details: Json;
}): RecordedDecision[] {
  const one = (d: unknown): RecordedDecision[] => {
    if (!isObject(d)) return [];
    const request = readRequest(d.request);
    return request ? [{ seq: row.seq, at: row.at, request, allowed: d.decision === 'allow' }] : [];
  };
  if (row.action === 'policy.decision') return one(row.details);
  const policy = row.details.policy;
  return isObject(policy) && Array.isArray(policy.decisions) ? policy.decisions.flatMap(one) : [];
}

export interface WhatIfChange {
  readonly seq: number;
  readonly at: number;
  readonly request: RecordedRequest;
  readonly recorded: 'allow' | 'deny';
  /** What the enforced set decides for it now (differs from `recorded` when entities changed since). */
  readonly current: 'allow' | 'deny';
  readonly proposed: 'allow' | 'deny';
  readonly proposedPolicies: readonly string[];
  readonly proposedErrors: readonly { policyId: string | null; message: string }[];
}

const verdict = (allowed: boolean) => (allowed ? 'allow' : 'deny');

/**
 * Replays the last `last` recorded decisions against a proposed enforced set
 * (with the current grants and entities) and lists every one whose outcome
 * would differ from the recorded one. Nothing is stored.
 */
export async function whatIf(
  deps: PolicyDeps,
  actor: Actor,
  input: PolicySetInput & { last: number },
): Promise<{ version: number; examined: number; changed: readonly WhatIfChange[] }> {
  requirePolicyReader(actor, 'run what-if analyses');
  const proposed = await deps.engine.compile(await proposedMembers(deps, input));
  const rows = await deps.store.policy.decisions.recent(input.last);
  const recorded = rows.flatMap(decisionsOf).slice(0, input.last);
  const changed: WhatIfChange[] = [];
  for (const r of recorded) {
    const request: DecisionRequest = r.request;
    const next = await deps.engine.decideWith(proposed, request);
    if (next.allowed === r.allowed) continue;
    const now = await deps.engine.decide(request);
    changed.push({
      seq: r.seq,
      at: r.at,
      request: r.request,
      recorded: verdict(r.allowed),
      current: verdict(now.allowed),
      proposed: verdict(next.allowed),
      proposedPolicies: next.policies,
      proposedErrors: next.errors,
    });
  }
  return { version: proposed.version, examined: recorded.length, changed };
}
