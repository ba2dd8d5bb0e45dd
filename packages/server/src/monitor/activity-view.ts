import type { Actor } from '../audit/index.js';
import { CustosError, notFound } from '../core/index.js';
import { requireAgentAccess } from '../identity/index.js';
import type { Store } from '../storage/index.js';
import { type ActivityEvent, toActivity } from './activity-event.js';

/** Most events one view reads; past it the view says it is truncated (narrow the time range). */
export const VIEW_MAX_EVENTS = 20_000;

export interface ActivityWindow {
  readonly from: number;
  readonly to: number;
  readonly bucketMs: number;
}

/** One agent's activity over a time range, from the audit log. */
export interface ActivityView {
  readonly agentId: string;
  readonly from: number;
  readonly to: number;
  readonly bucketMs: number;
  readonly events: number;
  readonly truncated: boolean;
  /** Calls, denials and token requests per bucket, oldest first (empty buckets included). */
  readonly timeline: readonly { at: number; calls: number; denied: number; tokens: number }[];
  /** Tools, resources and routes used, most used first. */
  readonly resources: readonly { resource: string; calls: number; denied: number; lastAt: number }[];
  readonly calls: number;
  readonly denied: number;
  readonly denyRate: number;
  readonly tokens: number;
  readonly bytes: number;
  readonly sourceAddresses: readonly { address: string; events: number; lastAt: number }[];
  readonly onBehalfOf: readonly { user: string; events: number; lastAt: number }[];
}

function bump<T extends { lastAt: number }>(map: Map<string, T>, key: string, make: () => T, at: number): T {
  let entry = map.get(key);
  if (!entry) {
    entry = make();
    map.set(key, entry);
  }
  if (at > entry.lastAt) entry.lastAt = at;
  return entry;
}

/** Builds the view from activity events (pure). */
export function summarize(
  agentId: string,
  window: ActivityWindow,
  events: readonly ActivityEvent[],
  truncated: boolean,
): ActivityView {
  const buckets = Math.max(1, Math.ceil((window.to - window.from) / window.bucketMs));
  const timeline = Array.from({ length: buckets }, (_, i) => ({
    at: window.from + i * window.bucketMs,
    calls: 0,
    denied: 0,
    tokens: 0,
  }));
  const resources = new Map<string, { resource: string; calls: number; denied: number; lastAt: number }>();
  const addresses = new Map<string, { address: string; events: number; lastAt: number }>();
  const users = new Map<string, { user: string; events: number; lastAt: number }>();
  let calls = 0;
  let denied = 0;
  let tokens = 0;
  let bytes = 0;
  for (const e of events) {
    const slot =
      timeline[Math.min(buckets - 1, Math.max(0, Math.floor((e.at - window.from) / window.bucketMs)))];
    if (!slot) continue;
    if (e.kind === 'token') {
      tokens++;
      slot.tokens++;
    } else {
      calls++;
      slot.calls++;
      if (e.outcome === 'deny') {
        denied++;
        slot.denied++;
      }
    }
    bytes += e.bytes;
    if (e.resource !== null) {
      const r = bump(
        resources,
        e.resource,
        () => ({ resource: e.resource as string, calls: 0, denied: 0, lastAt: 0 }),
        e.at,
      );
      r.calls++;
      if (e.outcome === 'deny') r.denied++;
    }
    if (e.sourceAddress !== null)
      bump(
        addresses,
        e.sourceAddress,
        () => ({ address: e.sourceAddress as string, events: 0, lastAt: 0 }),
        e.at,
      ).events++;
    if (e.onBehalfOf !== null)
      bump(users, e.onBehalfOf, () => ({ user: e.onBehalfOf as string, events: 0, lastAt: 0 }), e.at)
        .events++;
  }
  return {
    agentId,
    from: window.from,
    to: window.to,
    bucketMs: window.bucketMs,
    events: events.length,
    truncated,
    timeline,
    resources: [...resources.values()].sort(
      (a, b) => b.calls - a.calls || a.resource.localeCompare(b.resource),
    ),
    calls,
    denied,
    denyRate: calls > 0 ? denied / calls : 0,
    tokens,
    bytes,
    sourceAddresses: [...addresses.values()].sort((a, b) => b.events - a.events),
    onBehalfOf: [...users.values()].sort((a, b) => b.events - a.events),
  };
}

/**
 * One agent's activity between `from` and `to`: calls over time, the tools and
 * resources it used, its deny rate, the addresses it came from and the users it
 * acted for. Read from the audit log (at most {@link VIEW_MAX_EVENTS} events).
 * Admins and auditors see every agent, owners their own.
 */
export async function agentActivity(
  deps: { store: Store },
  actor: Actor,
  agentId: string,
  window: ActivityWindow,
): Promise<ActivityView> {
  if (actor.role === 'resource_server') throw new CustosError('forbidden', 'this token cannot read activity');
  const agent = await deps.store.agents.get(agentId, { tags: false });
  if (!agent) throw notFound('agent', agentId);
  requireAgentAccess(actor, agent);
  const events: ActivityEvent[] = [];
  let cursor: string | undefined;
  let read = 0;
  do {
    const page = await deps.store.audit.list({
      limit: 500,
      cursor,
      agentId,
      from: window.from,
      to: window.to,
    });
    for (const record of page.items) {
      const activity = toActivity(record);
      if (activity?.agentId === agentId && activity.at >= window.from && activity.at < window.to)
        events.push(activity);
    }
    read += page.items.length;
    cursor = page.nextCursor ?? undefined;
  } while (cursor && read < VIEW_MAX_EVENTS);
  return summarize(agentId, window, events, cursor !== undefined);
}
