import { Type } from '@sinclair/typebox';
import { CustosError } from '../../core/index.js';
import {
  agentActivity,
  agentBaseline,
  changeFinding,
  type FindingAction,
  getFinding,
  killAgent,
  liftRestriction,
  listFindings,
  reportActivity,
  ruleText,
} from '../../monitor/index.js';
import type { FindingRecord, RestrictionRecord } from '../../storage/index.js';
import * as M from '../monitor-schemas.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { agentView, iso, parseTimestamp } from '../views.js';

const DAY_MS = 86_400_000;
const BUCKETS = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '1d': DAY_MS } as const;
const MAX_BUCKETS = 2000;
const MAX_SPAN_MS = 31 * DAY_MS;

const findingView = (f: FindingRecord) => ({
  id: f.id,
  detector: f.detector,
  severity: f.severity,
  status: f.status,
  agent: f.agentId,
  title: f.title,
  explanation: f.explanation,
  evidence: f.evidence.map((e) => ({ ...e })),
  occurrences: f.occurrences,
  firstSeen: iso(f.firstSeen),
  lastSeen: iso(f.lastSeen),
  response: f.response,
  statusReason: f.statusReason,
  statusBy: f.statusBy,
  createdAt: iso(f.createdAt),
  updatedAt: iso(f.updatedAt),
});

const restrictionView = (r: RestrictionRecord) => ({
  agent: r.agentId,
  mode: r.mode,
  findingId: r.findingId,
  reason: r.reason,
  createdBy: r.createdBy,
  createdAt: iso(r.createdAt),
});

const readers = (role: string, what: string) => {
  if (role !== 'admin' && role !== 'auditor')
    throw new CustosError('forbidden', `only admin and auditor tokens can read ${what}`);
};

function findingRoute(action: FindingAction, verb: string, summary: string, reasonRequired: boolean) {
  return defineRoute({
    method: 'POST',
    path: `/api/v1/findings/{id}/${verb}`,
    operationId: `${action.replace(/_(\w)/g, (_, c: string) => c.toUpperCase())}Finding`,
    summary,
    tag: 'monitoring',
    access: 'authenticated',
    params: M.FindingParams,
    body: reasonRequired ? S.Reason : M.OptionalReason,
    ...(reasonRequired ? {} : { bodyOptional: true }),
    response: M.Finding,
    handler: async ({ deps, actor, params, body }) =>
      findingView(await changeFinding(deps, actor, params.id, action, body.reason ?? null)),
  });
}

export const monitorRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/activity',
    operationId: 'reportActivity',
    summary: 'Report what agents did (resource servers using the SDK directly); recorded in the audit log',
    tag: 'monitoring',
    access: 'authenticated',
    status: 202,
    body: M.ReportActivity,
    bodyLimit: 1024 * 1024,
    response: M.ActivityAccepted,
    handler: async ({ deps, actor, body }) => {
      const seqs = await reportActivity(
        { ...deps, committer: deps.oauth.committer },
        actor,
        body.events.map((e, i) => ({
          ...e,
          at: e.at === undefined ? undefined : parseTimestamp(e.at, `events/${i}/at`),
        })),
      );
      return { accepted: seqs.length, seqs };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/agents/{id}/activity',
    operationId: 'getAgentActivity',
    summary: 'An agent’s activity: calls over time, tools and resources used, deny rate, addresses, users',
    tag: 'monitoring',
    access: 'authenticated',
    params: S.IdParams('agt'),
    query: M.ActivityQuery,
    response: M.ActivityView,
    handler: async ({ deps, actor, params, query }) => {
      const to = query.to === undefined ? deps.clock.now() : parseTimestamp(query.to, 'to');
      const from = query.from === undefined ? to - DAY_MS : parseTimestamp(query.from, 'from');
      const bucketMs = BUCKETS[query.bucket ?? (to - from > 2 * DAY_MS ? '1d' : '1h')];
      const refuse = (detail: string) =>
        new CustosError('validation_failed', detail, { fields: [{ pointer: '/from', detail }] });
      if (from >= to) throw refuse('`from` must be before `to`');
      if (to - from > MAX_SPAN_MS) throw refuse('the range may span at most 31 days');
      if ((to - from) / bucketMs > MAX_BUCKETS)
        throw refuse(`the range holds more than ${MAX_BUCKETS} buckets: choose a larger \`bucket\``);
      const v = await agentActivity(deps, actor, params.id, { from, to, bucketMs });
      const times = <T extends { lastAt: number }>(items: readonly T[]) =>
        items.map((i) => ({ ...i, lastAt: iso(i.lastAt) }));
      return {
        agent: v.agentId,
        from: iso(v.from),
        to: iso(v.to),
        bucketSeconds: v.bucketMs / 1000,
        events: v.events,
        truncated: v.truncated,
        calls: v.calls,
        denied: v.denied,
        denyRate: Math.round(v.denyRate * 10_000) / 10_000,
        tokens: v.tokens,
        bytes: v.bytes,
        timeline: v.timeline.map((b) => ({ ...b, at: iso(b.at) })),
        resources: times(v.resources),
        sourceAddresses: times(v.sourceAddresses),
        onBehalfOf: times(v.onBehalfOf),
      };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/agents/{id}/baseline',
    operationId: 'getAgentBaseline',
    summary: 'What the monitor has learned about an agent (its behavioural baseline)',
    tag: 'monitoring',
    access: 'authenticated',
    params: S.IdParams('agt'),
    response: M.BaselineView,
    handler: async ({ deps, actor, params }) => {
      const b = await agentBaseline(deps, actor, params.id);
      const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
      const { agentId, learningEndsAt, firstSeen, lastSeen, ...rest } = b;
      return {
        agent: agentId,
        ...rest,
        learningEndsAt: isoOrNull(learningEndsAt),
        firstSeen: isoOrNull(firstSeen),
        lastSeen: isoOrNull(lastSeen),
      };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/agents/{id}/kill',
    operationId: 'killAgent',
    summary: 'Kill switch: suspend the agent and revoke all its keys and tokens, everywhere at once',
    tag: 'monitoring',
    access: 'authenticated',
    params: S.IdParams('agt'),
    body: S.Reason,
    response: M.KillResult,
    handler: async ({ deps, actor, params, body }) => {
      const result = await killAgent(deps, actor, params.id, body.reason);
      return {
        agent: agentView(result.agent),
        revokedKeys: [...result.revokedKeys],
        revokedTokens: result.revokedTokens,
      };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/agents/{id}/unrestrict',
    operationId: 'unrestrictAgent',
    summary:
      'Lift a response rule’s restriction (approval required for sensitive calls) from an agent (admin)',
    tag: 'monitoring',
    access: 'authenticated',
    params: S.IdParams('agt'),
    body: S.Reason,
    response: M.Restriction,
    handler: async ({ deps, actor, params, body }) =>
      restrictionView(await liftRestriction(deps, actor, params.id, body.reason)),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/monitor/restrictions',
    operationId: 'listRestrictions',
    summary: 'Agents whose sensitive calls need approval (set by response rules)',
    tag: 'monitoring',
    access: 'authenticated',
    response: Type.Object({ items: Type.Array(M.Restriction) }),
    handler: async ({ deps, actor }) => {
      readers(actor.role, 'restrictions');
      return { items: (await deps.store.monitor.restrictions.list()).map(restrictionView) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/findings',
    operationId: 'listFindings',
    summary: 'Findings of the monitor, newest first',
    tag: 'monitoring',
    access: 'authenticated',
    query: M.FindingQuery,
    response: S.Page(M.Finding),
    handler: async ({ deps, actor, query }) => {
      const page = await listFindings(deps, actor, {
        cursor: query.cursor,
        limit: query.limit ?? 50,
        status: query.status,
        agentId: query.agent,
        detector: query.detector,
        severity: query.severity,
      });
      return { items: page.items.map(findingView), nextCursor: page.nextCursor };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/findings/{id}',
    operationId: 'getFinding',
    summary: 'One finding, with its evidence',
    tag: 'monitoring',
    access: 'authenticated',
    params: M.FindingParams,
    response: M.Finding,
    handler: async ({ deps, actor, params }) => findingView(await getFinding(deps, actor, params.id)),
  }),
  findingRoute('acknowledge', 'acknowledge', 'Acknowledge an open finding (someone is on it)', false),
  findingRoute('resolve', 'resolve', 'Resolve a finding', true),
  findingRoute('false_positive', 'false-positive', 'Mark a finding as a false positive', true),
  defineRoute({
    method: 'GET',
    path: '/api/v1/monitor/status',
    operationId: 'getMonitorStatus',
    summary:
      'The monitor’s state: position in the audit log, detectors, rules, pending alerts (admin or auditor)',
    tag: 'monitoring',
    access: 'authenticated',
    response: M.MonitorStatus,
    handler: async ({ deps, actor }) => {
      readers(actor.role, 'the monitor status');
      const m = deps.monitor;
      return {
        enabled: m.enabled,
        cursor: (await deps.store.monitor.state.get('default'))?.cursor ?? null,
        processed: m.pipeline?.processed ?? null,
        head: (await deps.store.auditLog.head()).seq,
        learningSeconds: Math.round(m.settings.learningMs / 1000),
        detectors: Object.fromEntries(Object.entries(m.settings.detectors).map(([k, v]) => [k, { ...v }])),
        responseRules: m.settings.rules.map(ruleText),
        pendingDeliveries: await deps.store.monitor.deliveries.pending(),
        findings: { ...(await deps.store.monitor.findings.countByStatus()) },
      };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/monitor/jwks',
    operationId: 'getSecurityEventKeys',
    summary: 'The public key Security Event Tokens are signed with (anyone may verify)',
    tag: 'monitoring',
    access: 'public',
    response: M.Jwks,
    handler: async ({ deps }) => deps.monitor.signer?.jwks() ?? { keys: [] },
  }),
];
