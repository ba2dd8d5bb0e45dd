import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../audit/index.js';
import { CustosError } from '../../core/index.js';
import {
  type ApprovalDeps,
  approvalView,
  decideApproval,
  getApproval,
  listApprovals,
} from '../../governance/approvals.js';
import { isAdminTokenFormat } from '../../identity/index.js';
import { authenticateRequest } from '../admin-auth.js';
import { authenticateAgentToken } from '../authzen-auth.js';
import type { AppDeps } from '../deps.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';

const approvalDeps = (deps: AppDeps): ApprovalDeps => ({
  store: deps.store,
  clock: deps.clock,
  ttlMs: deps.config.approvalTtl * 1000,
});

const Approval = Type.Object({
  id: S.Id('apr'),
  status: Type.Union(['pending', 'approved', 'denied', 'used', 'expired'].map((s) => Type.Literal(s))),
  agent: S.Id('agt'),
  onBehalfOf: Type.Union([S.Id('usr'), Type.Null()]),
  approver: S.Id('usr'),
  approverKind: Type.Union([Type.Literal('person'), Type.Literal('owner')]),
  action: Type.String(),
  resource: Type.Object({ type: Type.String(), id: Type.String() }),
  request: Type.Record(Type.String(), Type.Unknown(), {
    description: 'the exact call: upstream, tool or route, arguments',
  }),
  policies: Type.Array(Type.String()),
  createdAt: Type.String(),
  expiresAt: Type.String(),
  decidedAt: Type.Union([Type.String(), Type.Null()]),
  decidedBy: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  usedAt: Type.Union([Type.String(), Type.Null()]),
});

const Verdict = Type.Object(
  { reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) },
  { additionalProperties: false },
);

/**
 * Who asks about one approval: an admin principal (token or console session),
 * or the agent the request is for, with its own access token (to poll while it
 * waits).
 */
async function approvalReader(deps: AppDeps, request: FastifyRequest): Promise<Actor> {
  const header = request.headers.authorization;
  const bearer = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
  if (!header || (bearer !== undefined && isAdminTokenFormat(bearer)))
    return authenticateRequest(deps, request);
  return authenticateAgentToken(deps, request, null);
}

export const approvalRoutes = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/approvals',
    operationId: 'listApprovals',
    summary: 'Approval requests, newest first (people see those they decide)',
    tag: 'approvals',
    access: 'authenticated',
    query: Type.Object(
      {
        status: Type.Optional(
          Type.Union([
            Type.Literal('pending'),
            Type.Literal('approved'),
            Type.Literal('denied'),
            Type.Literal('used'),
          ]),
        ),
        agent: Type.Optional(S.Id('agt')),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
      },
      { additionalProperties: false },
    ),
    response: Type.Object({ items: Type.Array(Approval) }),
    handler: async ({ deps, actor, query }) => {
      const now = deps.clock.now();
      const items = await listApprovals(approvalDeps(deps), actor, { ...query, limit: query.limit ?? 50 });
      return { items: items.map((a) => approvalView(a, now)) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/approvals/{id}',
    operationId: 'getApproval',
    summary:
      'One approval request: the exact call it is for and its status. The agent it is for may poll it with its access token',
    tag: 'approvals',
    access: 'public',
    params: S.IdParams('apr'),
    response: Approval,
    handler: async ({ deps, params, reply }) => {
      const actor = await approvalReader(deps, reply.request);
      const now = deps.clock.now();
      if (actor.type === 'agent') {
        const approval = await deps.store.approvals.get(params.id);
        if (!approval || approval.agentId !== actor.id)
          throw new CustosError('not_found', `unknown approval request \`${params.id}\``);
        return approvalView(approval, now);
      }
      return approvalView(await getApproval(approvalDeps(deps), actor, params.id), now);
    },
  }),
  ...(
    [
      [
        'approve',
        'Approve the exact call (only the designated person may); the agent may then retry it once',
      ],
      ['deny', 'Deny the call (only the designated person may)'],
    ] as const
  ).map(([verdict, summary]) =>
    defineRoute({
      method: 'POST',
      path: `/api/v1/approvals/{id}/${verdict}`,
      operationId: `${verdict}Approval`,
      summary,
      tag: 'approvals',
      access: 'authenticated',
      params: S.IdParams('apr'),
      body: Verdict,
      bodyOptional: true,
      response: Approval,
      handler: async ({ deps, actor, params, body }) =>
        approvalView(
          await decideApproval(approvalDeps(deps), actor, params.id, verdict, body.reason ?? null),
          deps.clock.now(),
        ),
    }),
  ),
];
