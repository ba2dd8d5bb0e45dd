import { Type } from '@sinclair/typebox';
import { createUser, deactivateUser, getUser, listUsers, updateUser } from '../../identity/index.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { userView } from '../views.js';

export const userRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/users',
    operationId: 'createUser',
    summary: 'Register a human (admin)',
    tag: 'users',
    access: 'authenticated',
    status: 201,
    body: S.CreateUser,
    response: S.User,
    handler: async ({ deps, actor, body }) => userView(await createUser(deps, actor, body)),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/users',
    operationId: 'listUsers',
    summary: 'List and search humans',
    tag: 'users',
    access: 'authenticated',
    query: S.UserQuery,
    response: S.Page(S.User),
    handler: async ({ deps, query }) => {
      const page = await listUsers(deps, { ...query, limit: query.limit ?? 50 });
      return { items: page.items.map(userView), nextCursor: page.nextCursor };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/users/{id}',
    operationId: 'getUser',
    summary: 'Read a human by id or email',
    tag: 'users',
    access: 'authenticated',
    params: S.UserParams,
    response: S.User,
    handler: async ({ deps, params }) => userView(await getUser(deps, params.id)),
  }),
  defineRoute({
    method: 'PATCH',
    path: '/api/v1/users/{id}',
    operationId: 'updateUser',
    summary: 'Change a human’s email, name or manager (admin)',
    tag: 'users',
    access: 'authenticated',
    params: S.UserParams,
    body: S.UpdateUser,
    response: S.User,
    handler: async ({ deps, actor, params, body }) =>
      userView(await updateUser(deps, actor, params.id, body)),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/users/{id}/deactivate',
    operationId: 'deactivateUser',
    summary: 'Deactivate a human (admin); their owner tokens stop working',
    tag: 'users',
    access: 'authenticated',
    params: S.UserParams,
    body: Type.Object({ reason: Type.Optional(S.Text(1, 1000)) }, { additionalProperties: false }),
    bodyOptional: true,
    response: S.User,
    handler: async ({ deps, actor, params, body }) =>
      userView(await deactivateUser(deps, actor, params.id, body.reason ?? 'deactivated')),
  }),
];
