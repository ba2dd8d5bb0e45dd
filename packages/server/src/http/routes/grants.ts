import { addGrant, getGrant, listGrants, revokeGrant } from '../../policy/index.js';
import * as P from '../policy-schemas.js';
import { grantView, policyDeps } from '../policy-views.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { parseTimestamp } from '../views.js';

export const grantRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/grants',
    operationId: 'addGrant',
    summary:
      'Grant an agent or a team an action on a resource, optionally conditional and time-bound (admin)',
    tag: 'grants',
    access: 'authenticated',
    status: 201,
    body: P.AddGrant,
    response: P.Grant,
    handler: async ({ deps, actor, body }) =>
      grantView(
        await addGrant(policyDeps(deps), actor, {
          ...body,
          expiresAt: body.expiresAt === undefined ? undefined : parseTimestamp(body.expiresAt, 'expiresAt'),
        }),
        deps.clock.now(),
      ),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/grants',
    operationId: 'listGrants',
    summary: 'Grants, by agent or team',
    tag: 'grants',
    access: 'authenticated',
    query: P.GrantQuery,
    response: S.Page(P.Grant),
    handler: async ({ deps, actor, query }) => {
      const principal = query.agent
        ? { type: 'Agent' as const, id: query.agent }
        : query.team
          ? { type: 'Team' as const, id: query.team }
          : query.user
            ? { type: 'User' as const, id: query.user }
            : undefined;
      const page = await listGrants(policyDeps(deps), actor, {
        principal,
        live: query.live,
        cursor: query.cursor,
        limit: query.limit ?? 50,
      });
      const now = deps.clock.now();
      return { items: page.items.map((g) => grantView(g, now)), nextCursor: page.nextCursor };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/grants/{id}',
    operationId: 'getGrant',
    summary: 'Read a grant',
    tag: 'grants',
    access: 'authenticated',
    params: S.IdParams('grt'),
    response: P.Grant,
    handler: async ({ deps, actor, params }) =>
      grantView(await getGrant(policyDeps(deps), actor, params.id), deps.clock.now()),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/grants/{id}/revoke',
    operationId: 'revokeGrant',
    summary: 'Revoke a grant; decisions stop using it at once (admin)',
    tag: 'grants',
    access: 'authenticated',
    params: S.IdParams('grt'),
    body: P.ReasonBody,
    response: P.Grant,
    handler: async ({ deps, actor, params, body }) =>
      grantView(await revokeGrant(policyDeps(deps), actor, params.id, body.reason), deps.clock.now()),
  }),
];
