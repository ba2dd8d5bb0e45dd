import { createAdminToken, listAdminTokens, revokeAdminToken } from '../../identity/index.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { adminTokenView, parseTimestamp } from '../views.js';

export const adminTokenRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/tokens',
    operationId: 'createAdminToken',
    summary: 'Issue an admin API token (admin); the token is shown once',
    tag: 'tokens',
    access: 'authenticated',
    status: 201,
    body: S.CreateAdminToken,
    response: S.CreatedAdminToken,
    handler: async ({ deps, actor, body }) => {
      const { record, token } = await createAdminToken(deps, actor, {
        ...body,
        expiresAt: body.expiresAt === undefined ? undefined : parseTimestamp(body.expiresAt, 'expiresAt'),
      });
      return { ...adminTokenView(record), token };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/tokens',
    operationId: 'listAdminTokens',
    summary: 'List admin API tokens (admin); never their values',
    tag: 'tokens',
    access: 'authenticated',
    query: S.PageQuery,
    response: S.Page(S.AdminToken),
    handler: async ({ deps, actor, query }) => {
      const page = await listAdminTokens(deps, actor, { cursor: query.cursor, limit: query.limit ?? 50 });
      return { items: page.items.map(adminTokenView), nextCursor: page.nextCursor };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/tokens/{id}',
    operationId: 'revokeAdminToken',
    summary: 'Revoke an admin API token (admin)',
    tag: 'tokens',
    access: 'authenticated',
    params: S.IdParams('tok'),
    response: S.AdminToken,
    handler: async ({ deps, actor, params }) =>
      adminTokenView(await revokeAdminToken(deps, actor, params.id)),
  }),
];
