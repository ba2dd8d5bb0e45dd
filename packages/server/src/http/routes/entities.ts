import { deleteEntity, getEntity, listEntities, upsertEntities } from '../../policy/index.js';
import * as P from '../policy-schemas.js';
import { policyDeps } from '../policy-views.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';

export const entityRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/entities',
    operationId: 'upsertEntities',
    summary: "Create or replace entities (Cedar's JSON entity format), checked against the schema (admin)",
    tag: 'entities',
    access: 'authenticated',
    body: P.UpsertEntities,
    bodyLimit: P.POLICY_BODY_LIMIT,
    response: P.UpsertEntitiesResult,
    handler: async ({ deps, actor, body }) =>
      upsertEntities(policyDeps(deps), actor, body.entities, body.reason ?? null),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/entities',
    operationId: 'listEntities',
    summary: 'Stored entities, by type',
    tag: 'entities',
    access: 'authenticated',
    query: P.EntityQuery,
    response: S.Page(P.EntityOut),
    handler: async ({ deps, actor, query }) => {
      const page = await listEntities(policyDeps(deps), actor, {
        type: query.type,
        cursor: query.cursor,
        limit: query.limit ?? 50,
      });
      return {
        items: page.items.map((e) => ({
          uid: { type: e.type, id: e.id },
          attrs: { ...e.attrs },
          parents: e.parents.map((p) => ({ ...p })),
          tags: { ...e.tags },
        })),
        nextCursor: page.nextCursor,
      };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/entities/{type}/{id}',
    operationId: 'getEntity',
    summary: "One entity as decisions see it (Custos' agents, users and teams included)",
    tag: 'entities',
    access: 'authenticated',
    params: P.EntityParams,
    response: P.EntityOut,
    handler: async ({ deps, actor, params }) => getEntity(policyDeps(deps), actor, params),
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/entities/{type}/{id}',
    operationId: 'deleteEntity',
    summary: 'Delete a stored entity (admin)',
    tag: 'entities',
    access: 'authenticated',
    status: 204,
    params: P.EntityParams,
    handler: async ({ deps, actor, params }) => {
      await deleteEntity(policyDeps(deps), actor, params, null);
      return null;
    },
  }),
];
