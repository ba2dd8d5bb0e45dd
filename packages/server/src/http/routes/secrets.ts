import { Type } from '@sinclair/typebox';
import type { SecretInfo } from '../../secrets/index.js';
import { deleteSecret, getSecretInfo, listSecrets, rewrapAll, setSecret } from '../../secrets/index.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { iso } from '../views.js';

const view = (s: SecretInfo) => ({
  name: s.name,
  description: s.description,
  version: s.version,
  createdBy: s.createdBy,
  createdAt: iso(s.createdAt),
  updatedAt: iso(s.updatedAt),
});
const NameParams = Type.Object({ name: S.SecretName }, { additionalProperties: false });

export const secretRoutes = [
  defineRoute({
    method: 'PUT',
    path: '/api/v1/secrets/{name}',
    operationId: 'putSecret',
    summary: 'Store or replace a downstream credential (admin; the value is write-only)',
    tag: 'secrets',
    access: 'authenticated',
    params: NameParams,
    body: S.PutSecret,
    response: S.SecretInfo,
    handler: async ({ deps, actor, params, body }) =>
      view(await setSecret(deps, actor, { name: params.name, ...body })),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/secrets/{name}/rotate',
    operationId: 'rotateSecret',
    summary: 'Replace the value of an existing secret (new data key, version + 1)',
    tag: 'secrets',
    access: 'authenticated',
    params: NameParams,
    body: S.PutSecret,
    response: S.SecretInfo,
    handler: async ({ deps, actor, params, body }) =>
      view(await setSecret(deps, actor, { name: params.name, ...body }, 'rotate')),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/secrets',
    operationId: 'listSecrets',
    summary: 'Secrets’ metadata (never values)',
    tag: 'secrets',
    access: 'authenticated',
    response: Type.Object({ items: Type.Array(S.SecretInfo) }),
    handler: async ({ deps, actor }) => ({ items: (await listSecrets(deps, actor)).map(view) }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/secrets/{name}',
    operationId: 'getSecret',
    summary: 'One secret’s metadata (never its value)',
    tag: 'secrets',
    access: 'authenticated',
    params: NameParams,
    response: S.SecretInfo,
    handler: async ({ deps, actor, params }) => view(await getSecretInfo(deps, actor, params.name)),
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/secrets/{name}',
    operationId: 'deleteSecret',
    summary: 'Delete a secret (admin)',
    tag: 'secrets',
    access: 'authenticated',
    status: 204,
    params: NameParams,
    handler: async ({ deps, actor, params }) => {
      await deleteSecret(deps, actor, params.name);
      return null;
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/secrets/rewrap',
    operationId: 'rewrapSealedKeys',
    summary: 'Re-seal every data key, signing key and audit key with the current master key (admin)',
    tag: 'secrets',
    access: 'authenticated',
    body: Type.Object({}, { additionalProperties: false }),
    bodyOptional: true,
    response: Type.Object({
      secrets: Type.Integer(),
      signingKeys: Type.Integer(),
      auditKeys: Type.Integer(),
    }),
    handler: async ({ deps, actor }) => rewrapAll(deps, actor),
  }),
];
