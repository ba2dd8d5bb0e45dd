import type { AuditEntry } from '../audit/index.js';
import type { Decision, DecisionRequest, SetDecision } from './decision.js';
import { recordedRequest } from './decision.js';
import { uidText } from './entity-uid.js';

/** Where a decision was asked: the AuthZEN API, the token endpoint, a policy test. */
export type DecisionSource = 'authzen' | 'token' | 'test' | 'gateway';

const outcome = (d: SetDecision) => ({
  decision: d.allowed ? 'allow' : 'deny',
  policies: d.policies,
  errors: d.errors,
  version: d.version,
});

/** Why a denied decision was denied, in a few words. */
export function denyReason(d: SetDecision): string | null {
  if (d.allowed) return null;
  if (d.errors.length > 0) return `evaluation error: ${d.errors[0]?.message}`;
  if (d.policies.length > 0) return `forbidden by ${d.policies.map((p) => `\`${p}\``).join(', ')}`;
  return 'no policy permits it';
}

/**
 * The audit entry of a decision: the request (as the engine saw it, so
 * what-if can replay it), the outcome with its deciding policies, policy set
 * version and evaluation errors, and the shadow set's outcome when there is one.
 * Recorded against the principal (an agent's decisions show in its activity).
 */
export function decisionAuditEntry(
  request: DecisionRequest,
  decision: Decision,
  source: DecisionSource,
): AuditEntry {
  return {
    action: 'policy.decision',
    target:
      request.principal.type === 'Agent'
        ? { type: 'agent', id: request.principal.id }
        : { type: 'entity', id: uidText(request.principal) },
    outcome: decision.allowed ? 'success' : 'denied',
    reason: denyReason(decision),
    details: {
      source,
      request: recordedRequest(request),
      ...outcome(decision),
      evaluated: decision.evaluated,
      ...(decision.shadow ? { shadow: outcome(decision.shadow) } : {}),
    },
  };
}
