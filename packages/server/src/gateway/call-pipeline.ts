import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { Actor, AuditEntry } from '../audit/index.js';
import type { Clock } from '../core/index.js';
import { type ApprovalDeps, requestApproval, useApproval } from '../governance/approvals.js';
import { type Decision, denyReason, type EntityUid, type PolicyEngine, uidText } from '../policy/index.js';
import type { ApprovalRecord } from '../storage/index.js';
import type { CallAudit } from './call-audit.js';
import type { CallCounters, RateLimiter } from './rate-limiter.js';
import type { VerifiedCaller } from './token-check.js';
import type { RateLimit, UpstreamLimits } from './upstream-spec.js';

/** A call the gateway is asked to make, before it decides. */
export interface CallFacts {
  readonly gateway: 'mcp' | 'http';
  /** `mcp:<server>` or `http:<api>`. */
  readonly upstream: string;
  readonly upstreamName: string;
  /** The JSON-RPC method, or the HTTP method. */
  readonly method: string;
  /** The Cedar action (`tools/call`, `http:GET`…). */
  readonly action: string;
  readonly resource: EntityUid;
  /** Action-specific context (`input`, `uri`, `params`…), completed with counters, time and address. */
  readonly context: Readonly<Record<string, unknown>>;
  /** Arguments to hash into the record (tool arguments, HTTP query). */
  readonly args: unknown;
  readonly limits: UpstreamLimits;
  /** Calls before this one in the session (MCP) or with this token (HTTP). */
  readonly sessionCalls: number;
  /** Hashed into the record: a session id is a handle to a live session. */
  readonly sessionId: string | null;
  /** An approval reference the agent presents for this exact call (`apr_…`), if any. */
  readonly approval?: string | null | undefined;
  /** Builds what an approver is shown of the call (upstream, tool or route, arguments): only if one is asked. */
  readonly shown?: (() => Readonly<Record<string, unknown>>) | undefined;
  /**
   * Why no approval can be for this call (an HTTP body streamed through, which
   * `args` cannot bind): a call that needs one is refused with this reason,
   * and no approval request is opened.
   */
  readonly unapprovable?: string | undefined;
  readonly sourceAddress: string;
  readonly requestId: string;
}

/**
 * A DPoP proof whose signature is still being checked when the call is
 * authorized: settles once it checked out with the caller (and its proof) and
 * the calls before this one in the session or with the token, read then; or
 * rejects with a GatewayError. (`facts.sessionCalls` is the count before it,
 * for the decision worked out meanwhile.)
 */
export type PendingProof = Promise<{ readonly caller: VerifiedCaller; readonly sessionCalls: number }>;

/** Why a call was not made. */
export class CallRefused extends Error {
  override readonly name = 'CallRefused';
  constructor(
    readonly kind: 'refused' | 'rate_limited' | 'approval_required',
    message: string,
    readonly detail: {
      readonly policies?: readonly string[];
      readonly retryAfterMs?: number;
      readonly reason?: string;
      /** The pending approval request the agent can wait for, then retry with. */
      readonly approval?: ApprovalRecord;
    },
  ) {
    super(message);
  }
}

/** What the upstream did, for the call's record. */
export interface CallResult {
  readonly upstreamStatus: number | null;
  readonly outcome: 'success' | 'failure';
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly error?: string | undefined;
}

/** Why an authorized call failed before its upstream answered. */
export const NO_CREDENTIAL = "the gateway's credential for the upstream is not available";
export const UNREACHABLE = 'the upstream could not be reached';

/** The result of an authorized call the upstream never answered (`bytesIn`: what reached it, if anything). */
export function failedCall(error: string, bytesIn: number): CallResult {
  return { upstreamStatus: null, outcome: 'failure', bytesIn, bytesOut: 0, error };
}

export interface AuthorizedCall {
  readonly decision: Decision;
  /** Records the call's outcome (not awaited by the response). */
  finish(result: CallResult): void;
}

export interface PipelineDeps {
  readonly engine: PolicyEngine;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit: CallAudit;
  readonly limiter: RateLimiter;
  readonly counters: CallCounters;
  /** Every agent, through every upstream, on this node. */
  readonly agentLimit: RateLimit | undefined;
  readonly dpopWindowMs: number;
  readonly approvals: ApprovalDeps;
}

/** What the record and the approval request name as asking for approval of a restricted agent's calls. */
const MONITOR_RESTRICTION = 'custos:monitor-restriction';

const hashOf = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);

function actorOf(caller: VerifiedCaller, requestId: string): Actor {
  return {
    type: 'agent',
    id: caller.agentId,
    role: 'agent',
    userId: caller.onBehalfOf,
    requestId,
    ...(caller.onBehalfOf ? { onBehalfOf: { userId: caller.onBehalfOf, chain: caller.chain } } : {}),
  };
}

/**
 * Whether the consent of a delegated call lets the agent reach this resource. A
 * consent that names tools reaches those only (`server/tool`, or `server/*`):
 * a server's resources and prompts only with `server/*`, and no HTTP API.
 */
export function consentCovers(caller: VerifiedCaller, resource: EntityUid): boolean {
  if (!caller.consentTools) return true;
  if (resource.type === 'McpServer') return caller.consentTools.includes(`${resource.id}/*`);
  if (resource.type !== 'Tool') return false;
  const server = resource.id.split('/')[0];
  return caller.consentTools.some((t) => t === resource.id || t === `${server}/*`);
}

/**
 * An address as Cedar's `ip()` reads it. Cedar refuses IPv4 embedded in IPv6
 * (`::ffff:10.1.2.3`, what a server listening on `::` sees of an IPv4 client)
 * and zone indexes (`fe80::1%eth0`); either would make every decision about
 * such a caller fail, and so deny. They become `10.1.2.3` and `fe80::1`; what
 * is no address at all becomes `0.0.0.0`.
 */
export function cedarIp(address: string): string {
  const unzoned = address.split('%', 1)[0] ?? '';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(unzoned)?.[1];
  const candidate = mapped ?? unzoned;
  return isIP(candidate) ? candidate : '0.0.0.0';
}

/**
 * The context every decision about a caller's request carries, besides the
 * action's own members: counters, time, address, the person and delegation of
 * a delegated token, and `approved` (true only once a matching approval is
 * presented). Calls and listings build it the same way.
 */
export function callerContext(
  caller: VerifiedCaller,
  now: number,
  sourceAddress: string,
  session: { calls: number; callsLastHour: number; resourceCallsLastHour: number },
): Record<string, unknown> {
  const person = caller.onBehalfOf ? { __entity: { type: 'User', id: caller.onBehalfOf } } : null;
  return {
    session,
    now: { __extn: { fn: 'datetime', arg: new Date(now).toISOString() } },
    sourceAddress: { __extn: { fn: 'ip', arg: cedarIp(sourceAddress) } },
    ...(person
      ? {
          onBehalfOf: person,
          delegation: {
            person,
            chain: caller.chain.map((id) => ({ __entity: { type: 'Agent', id } })),
            depth: caller.chain.length,
            consent: caller.consentId ?? '',
          },
        }
      : {}),
    approved: false,
  };
}

/**
 * The decision for a call. A delegated call is decided twice, with the same
 * context: for the agent and for the person it acts for. Both must allow, so
 * effective rights are the intersection; the deciding policies of a denial are
 * those of the refusing side.
 */
async function decideCall(
  engine: PolicyEngine,
  caller: VerifiedCaller,
  facts: CallFacts,
  context: Record<string, unknown>,
): Promise<{ decision: Decision; person: Decision | null }> {
  const decision = await decideFor(engine, { type: 'Agent', id: caller.agentId }, facts, context);
  if (!caller.onBehalfOf || !decision.allowed) return { decision, person: null };
  const person = await decideFor(engine, { type: 'User', id: caller.onBehalfOf }, facts, context);
  return { decision: person.allowed ? decision : person, person };
}

/** One side's decision of a call. */
function decideFor(
  engine: PolicyEngine,
  principal: EntityUid,
  facts: CallFacts,
  context: Record<string, unknown>,
): Promise<Decision> {
  return engine.decide({ principal, action: facts.action, resource: facts.resource, context });
}

function auditTarget(resource: EntityUid): { type: string; id: string } {
  const type =
    resource.type === 'Tool'
      ? 'tool'
      : resource.type === 'Route'
        ? 'route'
        : resource.type === 'Api'
          ? 'api'
          : 'mcp_server';
  return { type, id: resource.id };
}

/**
 * The enforcement steps of one call, after the token checked out: fail closed
 * when calls cannot be recorded, rate limits (per agent; per agent on the
 * upstream; per agent on the tool or route), the policy decision with the call's
 * context, and the record. Throws {@link CallRefused} when the call must not be
 * made; otherwise the caller forwards it and calls `finish`.
 */
export async function authorizeCall(
  deps: PipelineDeps,
  early: VerifiedCaller,
  facts: CallFacts,
  pending: PendingProof | null = null,
): Promise<AuthorizedCall> {
  deps.audit.admit();
  // the call's time (its context); limits and counters take the time it goes ahead
  const arrived = deps.clock.now();
  let now = arrived;
  const started = process.hrtime.bigint();
  const resourceText = uidText(facts.resource);
  type Counts = { callsLastHour: number; resourceCallsLastHour: number };
  const contextOf = (counts: Counts, sessionCalls: number) =>
    // (Object.assign rather than spreads: see `entry`)
    Object.assign(
      {},
      facts.context,
      callerContext(early, arrived, facts.sourceAddress, {
        calls: sessionCalls,
        callsLastHour: counts.callsLastHour,
        resourceCallsLastHour: counts.resourceCallsLastHour,
      }),
    );
  // A DPoP proof's signature still being checked on the thread pool (see TokenVerifier.begin):
  // the decision, which changes nothing, is worked out meanwhile with the counts as they stand;
  // nothing is counted, limited or recorded before the proof checks out.
  let speculative: {
    readonly counts: Counts;
    readonly sessionCalls: number;
    readonly decided: ReturnType<typeof decideCall>;
  } | null = null;
  let caller = early;
  let sessionCalls = facts.sessionCalls;
  if (pending) {
    const counts = deps.counters.peek(early.agentId, resourceText, now);
    const decided = decideCall(deps.engine, early, facts, contextOf(counts, sessionCalls));
    decided.catch(() => undefined); // awaited below, unless the proof fails
    speculative = { counts, sessionCalls, decided };
    ({ caller, sessionCalls } = await pending);
    now = deps.clock.now();
  }
  const actor = actorOf(caller, facts.requestId);
  // The record's common members, built when a record is: after the response for a
  // call recorded in `fast` mode, so the arguments' keyed hash and the session
  // hash are not on the call's path there. `facts` is not changed after this point.
  let base: Record<string, unknown> | null = null;
  const baseOf = (): Record<string, unknown> =>
    (base ??= {
      gateway: facts.gateway,
      upstream: facts.upstreamName,
      method: facts.method,
      action: facts.action,
      resource: resourceText,
      tokenId: caller.tokenId,
      ...(caller.onBehalfOf ? { onBehalfOf: caller.onBehalfOf } : {}),
      ...(facts.sessionId ? { session: hashOf(facts.sessionId) } : {}),
      sourceAddress: facts.sourceAddress,
      ...deps.audit.arguments(facts.args),
    });

  const entry = (
    outcome: AuditEntry['outcome'],
    reason: string | null,
    details: Record<string, unknown>,
  ): AuditEntry => ({
    action: 'gateway.call',
    target: auditTarget(facts.resource),
    outcome,
    reason,
    // Object.assign, not spreads: on this V8, spreading one object literal into another
    // costs µs and a new hidden class per call (garbage that outlives scavenges)
    details: Object.assign({}, baseOf(), details),
  });
  /** Records the call as denied (`details` on the record) and refuses it, saying why. */
  const refuse = (reason: string, details: Record<string, unknown>, policies?: readonly string[]): never => {
    void deps.audit.record(actor, entry('denied', reason, details));
    throw new CallRefused('refused', `\`${facts.action}\` on \`${facts.resource.id}\` refused: ${reason}`, {
      ...(policies ? { policies } : {}),
      reason,
    });
  };

  const wait = deps.limiter.take(
    [
      { key: `a ${caller.agentId}`, limit: deps.agentLimit },
      { key: `u ${facts.upstream} ${caller.agentId}`, limit: facts.limits.perAgent },
      { key: `r ${resourceText} ${caller.agentId}`, limit: facts.limits.perTool },
    ],
    now,
  );
  if (wait > 0) {
    const reason = `rate limit reached; retry in ${(wait / 1000).toFixed(1)} s`;
    void deps.audit.record(actor, entry('denied', reason, { decision: 'rate_limited', retryAfterMs: wait }));
    throw new CallRefused('rate_limited', `\`${facts.action}\` on \`${facts.resource.id}\`: ${reason}`, {
      retryAfterMs: wait,
    });
  }

  if (!consentCovers(caller, facts.resource)) {
    const what =
      facts.resource.type === 'Tool'
        ? 'tool'
        : facts.resource.type === 'McpServer'
          ? 'the resources and prompts of server'
          : 'HTTP API';
    refuse(`the person's consent does not cover ${what} \`${facts.resource.id}\``, {
      decision: 'deny',
      consentId: caller.consentId,
    });
  }

  const counts = deps.counters.observe(caller.agentId, resourceText, now);
  const context: Record<string, unknown> = contextOf(counts, sessionCalls);
  // the decision worked out while the proof was checked holds if no call was counted meanwhile
  let { decision, person } =
    speculative &&
    speculative.sessionCalls === sessionCalls &&
    speculative.counts.callsLastHour === counts.callsLastHour &&
    speculative.counts.resourceCallsLastHour === counts.resourceCallsLastHour
      ? await speculative.decided
      : await decideCall(deps.engine, caller, facts, context);
  let approvalUsed: string | null = null;
  let requirement = decision.allowed ? null : await deps.engine.approvalRequirement(decision);
  if (requirement && caller.onBehalfOf && person === null) {
    // the agent's side refused pending approval: an approval lifts the person's side too (the
    // retry is decided as approved for both), so what refuses there must ask for approval as well
    const personSide = await decideFor(deps.engine, { type: 'User', id: caller.onBehalfOf }, facts, context);
    if (!personSide.allowed) {
      person = personSide;
      const personNeeds = await deps.engine.approvalRequirement(personSide);
      if (!personNeeds) {
        requirement = null;
        decision = personSide;
      } else {
        requirement = {
          kind: personNeeds.kind,
          kinds: [...requirement.kinds, ...personNeeds.kinds],
          policies: [...new Set([...requirement.policies, ...personNeeds.policies])],
        };
      }
    }
  }
  if (requirement) {
    // one approval is one person's word: it can lift forbids that name one approver only
    // (for a call that is not delegated, "the person" is the agent's owner)
    const approvers = new Set(requirement.kinds.map((k) => (caller.onBehalfOf ? k : 'owner')));
    const [kind] = approvers;
    requirement = approvers.size === 1 && kind ? { ...requirement, kind } : null;
  }
  const approvedAction = {
    agentId: caller.agentId,
    personId: caller.onBehalfOf,
    action: facts.action,
    resource: facts.resource,
    args: facts.args,
  };
  /** Refuses a call that needs an approval none can be for (see `facts.unapprovable`). */
  const approvable = (policies: readonly string[]): void => {
    if (facts.unapprovable) refuse(facts.unapprovable, { decision: 'deny', policies }, policies);
  };
  /** Opens (or finds) the approval request for this exact call and refuses it pending approval. */
  const askApproval = async (kind: 'person' | 'owner', policies: readonly string[]): Promise<never> => {
    approvable(policies);
    const approval = await requestApproval(deps.approvals, {
      ...approvedAction,
      kind,
      policies,
      shown: facts.shown?.() ?? { upstream: facts.upstreamName, args: facts.args },
      requestId: facts.requestId,
    });
    const reason = `approval required: ask the approver to approve \`${approval.id}\`, then retry with it`;
    void deps.audit.record(
      actor,
      entry('denied', reason, { decision: 'approval_required', approval: approval.id, policies }),
    );
    throw new CallRefused('approval_required', `\`${facts.action}\` on \`${facts.resource.id}\`: ${reason}`, {
      policies,
      reason,
      approval,
    });
  };
  /** Spends the presented reference on this call, or refuses the call saying why it cannot be. */
  const spendApproval = async (reference: string, kind: 'person' | 'owner', policies: readonly string[]) => {
    approvable(policies);
    const problem = await useApproval(deps.approvals, reference, approvedAction, kind, facts.requestId);
    if (problem) refuse(problem, { decision: 'deny', approval: reference }, policies);
    approvalUsed = reference;
  };
  if (requirement) {
    if (!facts.approval) await askApproval(requirement.kind, requirement.policies);
    // decide again as approved; the reference is spent only when that allows the call
    const approved = await decideCall(deps.engine, caller, facts, { ...context, approved: true });
    if (approved.decision.allowed && facts.approval) {
      await spendApproval(facts.approval, requirement.kind, decision.policies);
      ({ decision, person } = approved);
    }
  }
  // an agent the monitor restricted (`require_approval`) needs its owner's approval for every call
  if (decision.allowed && approvalUsed === null && caller.restricted) {
    if (!facts.approval) await askApproval('owner', [MONITOR_RESTRICTION]);
    else await spendApproval(facts.approval, 'owner', [MONITOR_RESTRICTION]);
  }
  const decided = {
    decision: decision.allowed ? 'allow' : 'deny',
    ...(approvalUsed ? { approval: approvalUsed } : {}),
    ...(caller.onBehalfOf
      ? {
          // the person and the chain are recorded from the actor (`onBehalfOf`, `delegation`)
          consentId: caller.consentId,
          ...(person
            ? { personDecision: person.allowed ? 'allow' : 'deny', personPolicies: person.policies }
            : {}),
        }
      : {}),
    policies: decision.policies,
    policyVersion: decision.version,
    ...(decision.errors.length > 0
      ? { errors: decision.errors.map((e) => ({ policyId: e.policyId, message: e.message })) }
      : {}),
    ...(decision.shadow
      ? {
          shadow: {
            decision: decision.shadow.allowed ? 'allow' : 'deny',
            policies: decision.shadow.policies,
          },
        }
      : {}),
  };
  if (!decision.allowed) {
    const denied = denyReason(decision) ?? 'denied';
    const reason = person && !person.allowed ? `the person it acts for may not: ${denied}` : denied;
    refuse(reason, decided, decision.policies);
  }
  await deps.audit.authorize(
    actor,
    () => ({
      action: 'gateway.authorize',
      target: auditTarget(facts.resource),
      details: Object.assign({}, baseOf(), decided),
    }),
    caller.proof && caller.jkt
      ? { key: caller.jkt, jti: caller.proof.jti, expiresAt: caller.proof.iat * 1000 + deps.dpopWindowMs }
      : null,
  );
  return {
    decision,
    finish(result) {
      const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
      void deps.audit.record(
        actor,
        entry(
          result.outcome,
          result.error ?? null,
          Object.assign({}, decided, {
            upstreamStatus: result.upstreamStatus,
            latencyMs: Math.round(latencyMs * 1000) / 1000,
            bytesIn: result.bytesIn,
            bytesOut: result.bytesOut,
          }),
        ),
      );
    },
  };
}

/**
 * Whether a listing shows an item: the agent may make some call of it. A
 * decision without the call's arguments denies with evaluation errors when a
 * permit depends on them; such items are shown (the call itself is decided with
 * its arguments). A forbid that applies regardless, or no permit at all, hides it.
 */
export function visibleIn(decision: Decision, inactivePolicy: string): boolean {
  if (decision.allowed) return true;
  if (decision.policies.includes(inactivePolicy) || decision.errors.length === 0) return false;
  const erroring = new Set(decision.errors.map((e) => e.policyId));
  return decision.policies.every((p) => erroring.has(p));
}
