import type { Actor } from '../audit/index.js';
import type { AgentActivityRow, AgentRecord, AuditEventRecord, Store } from '../storage/index.js';

const DAY_MS = 86_400_000;

/** What the dashboard reads: the store and the clock. */
export interface DashboardDeps {
  readonly store: Store;
  readonly clock: { now(): number };
}

export interface DashboardOptions {
  /** Days of token and decision history, in daily buckets ending today. */
  readonly days: number;
  /** Active agents with no activity for this many days are listed as inactive. */
  readonly inactiveDays: number;
  /** Agents expiring within this many days are listed as expiring soon. */
  readonly expiringDays: number;
}

export interface DailyCounts {
  /** Start of the bucket (epoch ms). */
  readonly at: number;
  readonly counts: Readonly<Record<string, number>>;
}

export interface DashboardSummary {
  readonly agents: {
    readonly total: number;
    readonly byStatus: Readonly<Record<string, number>>;
    readonly byEnvironment: Readonly<Record<string, number>>;
    readonly byRisk: Readonly<Record<string, number>>;
  };
  readonly expiringSoon: readonly AgentRecord[];
  readonly inactive: { readonly total: number; readonly items: readonly AgentActivityRow[] };
  /** Null for `owner`s, who may not read the audit log. */
  readonly activity: {
    readonly from: number;
    readonly bucketMs: number;
    readonly tokens: readonly DailyCounts[];
    readonly decisions: readonly DailyCounts[];
  } | null;
  readonly recentDenials: readonly AuditEventRecord[] | null;
}

const LIST_LIMIT = 10;

function add(map: Record<string, number>, key: string, n: number) {
  map[key] = (map[key] ?? 0) + n;
}

/**
 * The console's dashboard in one read: agents counted by status, environment
 * and risk; tokens issued/refused and policy decisions allowed/denied per day;
 * the latest denials; agents expiring soon; active agents without recent
 * activity. An `owner` sees only their own agents and no audit-derived data.
 */
export async function dashboardSummary(
  deps: DashboardDeps,
  actor: Actor,
  options: DashboardOptions,
): Promise<DashboardSummary> {
  const now = deps.clock.now();
  const ownerId = actor.role === 'owner' ? actor.userId : null;
  const counts = await deps.store.console.dashboard.agentCounts(ownerId);
  const byStatus: Record<string, number> = {};
  const byEnvironment: Record<string, number> = {};
  const byRisk: Record<string, number> = {};
  let total = 0;
  for (const row of counts) {
    total += row.count;
    add(byStatus, row.status, row.count);
    add(byEnvironment, row.environment, row.count);
    add(byRisk, row.riskLevel, row.count);
  }

  const expiringIds = await deps.store.console.dashboard.expiring(
    now + options.expiringDays * DAY_MS,
    ownerId,
    LIST_LIMIT,
  );
  const expiringSoon = (await Promise.all(expiringIds.map((id) => deps.store.agents.get(id)))).filter(
    (a): a is AgentRecord => a !== null,
  );

  const cutoff = now - options.inactiveDays * DAY_MS;
  const quiet = (await deps.store.console.dashboard.agentActivity(ownerId))
    .filter((a) => (a.lastActivityAt ?? a.createdAt) < cutoff)
    .sort((a, b) => (a.lastActivityAt ?? a.createdAt) - (b.lastActivityAt ?? b.createdAt));

  if (actor.role === 'owner') {
    return {
      agents: { total, byStatus, byEnvironment, byRisk },
      expiringSoon,
      inactive: { total: quiet.length, items: quiet.slice(0, LIST_LIMIT) },
      activity: null,
      recentDenials: null,
    };
  }

  // Daily buckets aligned on UTC midnight, the last one being today.
  const from = Math.floor(now / DAY_MS) * DAY_MS - (options.days - 1) * DAY_MS;
  const rows = await deps.store.console.dashboard.activity(from, DAY_MS, [
    'token.issue',
    'token.refuse',
    'policy.decision',
  ]);
  const series = (action: (a: string, outcome: string) => string | null): DailyCounts[] => {
    const buckets = Array.from({ length: options.days }, () => ({}) as Record<string, number>);
    for (const row of rows) {
      const key = action(row.action, row.outcome);
      const bucket = buckets[row.bucket];
      if (key && bucket) add(bucket, key, row.count);
    }
    return buckets.map((counts, i) => ({ at: from + i * DAY_MS, counts }));
  };
  const tokens = series((a) => (a === 'token.issue' ? 'issued' : a === 'token.refuse' ? 'refused' : null));
  const decisions = series((a, o) => (a === 'policy.decision' ? (o === 'success' ? 'allow' : 'deny') : null));
  const denials = await deps.store.audit.list({ limit: LIST_LIMIT, outcome: 'denied', order: 'desc' });

  return {
    agents: { total, byStatus, byEnvironment, byRisk },
    expiringSoon,
    inactive: { total: quiet.length, items: quiet.slice(0, LIST_LIMIT) },
    activity: { from, bucketMs: DAY_MS, tokens, decisions },
    recentDenials: denials.items,
  };
}
