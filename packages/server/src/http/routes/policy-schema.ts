import { getSchema, putSchema } from '../../policy/index.js';
import * as P from '../policy-schemas.js';
import { policyDeps } from '../policy-views.js';
import { defineRoute } from '../route.js';

export const schemaRoutes = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/schema',
    operationId: 'getSchema',
    summary: 'The Cedar schema: the platform core, the extension in force, and the effective whole',
    tag: 'schema',
    access: 'authenticated',
    response: P.SchemaView,
    handler: async ({ deps, actor }) => getSchema(policyDeps(deps), actor),
  }),
  defineRoute({
    method: 'PUT',
    path: '/api/v1/schema',
    operationId: 'putSchema',
    summary:
      'Replace the schema extension (Cedar schema text); refused if anything stored would break (admin)',
    tag: 'schema',
    access: 'authenticated',
    body: P.PutSchema,
    bodyLimit: P.POLICY_BODY_LIMIT,
    response: P.PutSchemaResult,
    handler: async ({ deps, actor, body }) => putSchema(policyDeps(deps), actor, body),
  }),
];
