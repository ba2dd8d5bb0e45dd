import { Type } from '@sinclair/typebox';
import { dashboardSummary } from '../../console/index.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { agentView, auditEventView, iso } from '../views.js';

const Counts = Type.Record(Type.String(), Type.Integer());
const Daily = Type.Array(Type.Object({ at: S.Timestamp, counts: Counts }));

export const dashboardRoutes = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/dashboard',
    operationId: 'getDashboard',
    summary:
      'Inventory and activity at a glance: agents by status/environment/risk, daily tokens and decisions, recent denials, expiring and inactive agents',
    tag: 'dashboard',
    access: 'authenticated',
    query: Type.Object(
      {
        days: Type.Optional(
          Type.Integer({ minimum: 1, maximum: 90, default: 14, description: 'days of history' }),
        ),
        inactiveDays: Type.Optional(
          Type.Integer({
            minimum: 1,
            maximum: 365,
            default: 30,
            description: 'inactive after this many days',
          }),
        ),
        expiringDays: Type.Optional(
          Type.Integer({
            minimum: 1,
            maximum: 365,
            default: 14,
            description: 'expiring within this many days',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    response: Type.Object({
      agents: Type.Object({ total: Type.Integer(), byStatus: Counts, byEnvironment: Counts, byRisk: Counts }),
      expiringSoon: Type.Array(S.Agent),
      inactive: Type.Object({
        total: Type.Integer(),
        items: Type.Array(
          Type.Object({
            id: S.Id('agt'),
            name: Type.String(),
            ownerEmail: Type.String(),
            environment: Type.String(),
            createdAt: S.Timestamp,
            lastActivityAt: Type.Union([S.Timestamp, Type.Null()]),
          }),
        ),
      }),
      activity: Type.Union([
        Type.Object({ from: S.Timestamp, bucketSeconds: Type.Integer(), tokens: Daily, decisions: Daily }),
        Type.Null(),
      ]),
      recentDenials: Type.Union([Type.Array(S.AuditEvent), Type.Null()]),
    }),
    handler: async ({ deps, actor, query }) => {
      const d = await dashboardSummary(deps, actor, {
        days: query.days ?? 14,
        inactiveDays: query.inactiveDays ?? 30,
        expiringDays: query.expiringDays ?? 14,
      });
      return {
        agents: d.agents,
        expiringSoon: d.expiringSoon.map(agentView),
        inactive: {
          total: d.inactive.total,
          items: d.inactive.items.map((a) => ({
            ...a,
            createdAt: iso(a.createdAt),
            lastActivityAt: a.lastActivityAt === null ? null : iso(a.lastActivityAt),
          })),
        },
        activity: d.activity && {
          from: iso(d.activity.from),
          bucketSeconds: d.activity.bucketMs / 1000,
          tokens: d.activity.tokens.map((b) => ({ at: iso(b.at), counts: b.counts })),
          decisions: d.activity.decisions.map((b) => ({ at: iso(b.at), counts: b.counts })),
        },
        recentDenials: d.recentDenials === null ? null : d.recentDenials.map(auditEventView),
      };
    },
  }),
];
