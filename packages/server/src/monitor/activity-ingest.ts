import { isIP } from 'node:net';
import { type Actor, auditStatement } from '../audit/index.js';
import { type Clock, CustosError, type FieldError } from '../core/index.js';
import type { GroupCommitter, Store } from '../storage/index.js';
import { ACTIVITY_REPORT, type ActivityKind, type ActivityOutcome } from './activity-event.js';

/** One thing an agent did, as a resource server reports it. */
export interface ReportedActivity {
  readonly agent: string;
  /** When it happened (epoch ms); default: now. */
  readonly at?: number | undefined;
  readonly kind?: ActivityKind | undefined;
  /** `tools/call`, `http:POST`, `resources/read`… */
  readonly action: string;
  readonly resource?: { readonly type: string; readonly id: string } | undefined;
  readonly outcome: ActivityOutcome;
  readonly sourceAddress?: string | undefined;
  /** The `jti` of the access token the agent presented. */
  readonly tokenId?: string | undefined;
  readonly onBehalfOf?: string | undefined;
  /** Bytes returned to the agent. */
  readonly bytes?: number | undefined;
  /** Tags of the resource, e.g. `sensitive`, `egress`. */
  readonly tags?: readonly string[] | undefined;
}

/** How far back a report may date an activity, and how far ahead (clock skew). */
export const REPORT_MAX_AGE_MS = 15 * 60_000;
export const REPORT_MAX_SKEW_MS = 60_000;

const OUTCOMES = { allow: 'success', deny: 'denied', error: 'failure' } as const;

/**
 * Accepts activity reported by a resource server (or an admin) and records
 * each item as an `activity.report` audit event, all in one durable group
 * commit: the audit log stays the only source the monitor reads. Refuses the
 * whole report, changing nothing, when an item names an unknown agent, a time
 * too old or in the future, an address that is not an IP, or a token issued to
 * another agent. Returns the audit sequence numbers.
 */
export async function reportActivity(
  deps: { store: Store; clock: Clock; committer: GroupCommitter },
  actor: Actor,
  items: readonly ReportedActivity[],
): Promise<readonly number[]> {
  if (actor.role !== 'admin' && actor.role !== 'resource_server') {
    throw new CustosError('forbidden', `\`${actor.role}\` tokens cannot report activity`);
  }
  const now = deps.clock.now();
  const fields: FieldError[] = [];
  const fail = (i: number, field: string, detail: string) =>
    fields.push({ pointer: `/events/${i}/${field}`, detail });
  const agents = new Map<string, boolean>();
  for (const [i, item] of items.entries()) {
    if (!agents.has(item.agent))
      agents.set(item.agent, (await deps.store.agents.get(item.agent, { tags: false })) !== null);
    if (!agents.get(item.agent)) fail(i, 'agent', `unknown agent \`${item.agent}\``);
    if (item.at !== undefined && item.at < now - REPORT_MAX_AGE_MS)
      fail(i, 'at', `\`at\` is more than ${REPORT_MAX_AGE_MS / 60_000} minutes in the past`);
    if (item.at !== undefined && item.at > now + REPORT_MAX_SKEW_MS) fail(i, 'at', '`at` is in the future');
    if (item.sourceAddress !== undefined && isIP(item.sourceAddress) === 0)
      fail(i, 'sourceAddress', `\`${item.sourceAddress}\` is not an IP address`);
    if (item.tokenId !== undefined && agents.get(item.agent)) {
      const token = await deps.store.issuedTokens.get(item.tokenId);
      if (token && token.agentId !== item.agent)
        fail(i, 'tokenId', `token \`${item.tokenId}\` was not issued to agent \`${item.agent}\``);
    }
    if (fields.length >= 20) break;
  }
  const first = fields[0];
  if (first) throw new CustosError('validation_failed', first.detail, { fields });
  const statements = items.map((item) =>
    auditStatement(deps.clock, actor, {
      action: ACTIVITY_REPORT,
      target: { type: 'agent', id: item.agent },
      outcome: OUTCOMES[item.outcome],
      reason: null,
      details: {
        kind: item.kind ?? 'call',
        activity: item.action,
        ...(item.resource ? { resource: { type: item.resource.type, id: item.resource.id } } : {}),
        occurredAt: item.at ?? now,
        ...(item.sourceAddress !== undefined ? { sourceAddress: item.sourceAddress } : {}),
        ...(item.tokenId !== undefined ? { tokenId: item.tokenId } : {}),
        ...(item.onBehalfOf !== undefined ? { onBehalfOf: item.onBehalfOf } : {}),
        ...(item.bytes !== undefined ? { bytes: item.bytes } : {}),
        ...(item.tags && item.tags.length > 0 ? { tags: [...item.tags] } : {}),
      },
    }),
  );
  let outcome: Awaited<ReturnType<GroupCommitter['submit']>>;
  try {
    outcome = await deps.committer.submit({ statements });
  } catch (error) {
    if (error instanceof CustosError) throw error;
    throw new CustosError(
      'unavailable',
      'the activity could not be recorded: nothing was stored; try again',
      {
        cause: error,
      },
    );
  }
  if (!outcome.ok) throw new Error(`INVARIANT: an audit-only unit failed (${outcome.code})`);
  return outcome.rows.map((rows) => Number(rows[0]?.seq));
}
