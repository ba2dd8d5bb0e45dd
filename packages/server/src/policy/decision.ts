import type { EntityUid } from './entity-uid.js';

/**
 * A question for the engine: may `principal` do `action` (`Action::"<action>"`)
 * on `resource`, in `context`? `principalProperties` and `resourceProperties`
 * overlay the stored attributes of the entities (AuthZEN `properties`). All
 * JSON here is plain request JSON; the engine converts it to Cedar values.
 */
export interface DecisionRequest {
  readonly principal: EntityUid;
  readonly action: string;
  readonly resource: EntityUid;
  readonly context?: Readonly<Record<string, unknown>> | undefined;
  readonly principalProperties?: Readonly<Record<string, unknown>> | undefined;
  readonly resourceProperties?: Readonly<Record<string, unknown>> | undefined;
}

/** An evaluation error: the policy it came from (null for the request itself) and what went wrong. */
export interface EvaluationError {
  readonly policyId: string | null;
  readonly message: string;
}

/** The outcome of one policy set for one request. */
export interface SetDecision {
  readonly allowed: boolean;
  /**
   * The deciding policies: the permits that allowed; the forbids that denied;
   * the policies whose evaluation failed when an error denied; empty when
   * nothing permitted (default deny).
   */
  readonly policies: readonly string[];
  readonly errors: readonly EvaluationError[];
  /** The policy version of the set. */
  readonly version: number;
  /** How many policies could apply and were evaluated. */
  readonly evaluated: number;
}

/** A decision: the enforced outcome, and what the shadow set would have decided, when there is one. */
export interface Decision extends SetDecision {
  readonly shadow: SetDecision | null;
}

/** The request as the audit log records it (and what-if replays it). */
export interface RecordedRequest {
  readonly principal: EntityUid;
  readonly action: string;
  readonly resource: EntityUid;
  readonly context?: Readonly<Record<string, unknown>>;
  readonly principalProperties?: Readonly<Record<string, unknown>>;
  readonly resourceProperties?: Readonly<Record<string, unknown>>;
}

/** The request as data (optional members left out when empty). */
export function recordedRequest(request: DecisionRequest): RecordedRequest {
  const nonEmpty = (v: Readonly<Record<string, unknown>> | undefined) =>
    v !== undefined && Object.keys(v).length > 0 ? v : undefined;
  const context = nonEmpty(request.context);
  const pp = nonEmpty(request.principalProperties);
  const rp = nonEmpty(request.resourceProperties);
  return {
    principal: { type: request.principal.type, id: request.principal.id },
    action: request.action,
    resource: { type: request.resource.type, id: request.resource.id },
    ...(context ? { context } : {}),
    ...(pp ? { principalProperties: pp } : {}),
    ...(rp ? { resourceProperties: rp } : {}),
  };
}
