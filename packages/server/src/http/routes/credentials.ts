import { Type } from '@sinclair/typebox';
import { CustosError } from '../../core/index.js';
import { addAgentKey, listAgentKeys, requireAdmin, revokeAgentKey } from '../../identity/index.js';
import type { AgentKeyRecord, SigningKeyRecord } from '../../storage/index.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { iso, parseTimestamp } from '../views.js';

const keyView = (k: AgentKeyRecord, now: number) => ({
  kid: k.kid,
  alg: k.alg,
  thumbprint: k.thumbprint,
  jwk: { ...k.jwk },
  createdAt: iso(k.createdAt),
  expiresAt: iso(k.expiresAt),
  revokedAt: k.revokedAt === null ? null : iso(k.revokedAt),
  status: k.revokedAt !== null ? 'revoked' : k.expiresAt <= now ? 'expired' : 'active',
});

const signingKeyView = (k: SigningKeyRecord) => ({
  kid: k.kid,
  alg: k.alg,
  state: k.state,
  createdAt: iso(k.createdAt),
  activatedAt: k.activatedAt === null ? null : iso(k.activatedAt),
  retiredAt: k.retiredAt === null ? null : iso(k.retiredAt),
  publishUntil: k.publishUntil === null ? null : iso(k.publishUntil),
});

export const credentialRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/agents/{id}/keys',
    operationId: 'addAgentKey',
    summary: 'Register a public key the agent authenticates with (private_key_jwt)',
    tag: 'credentials',
    access: 'authenticated',
    status: 201,
    params: S.IdParams('agt'),
    body: S.AddAgentKey,
    response: S.AgentKey,
    handler: async ({ deps, actor, params, body }) => {
      const key = await addAgentKey(deps, actor, params.id, {
        jwk: body.jwk,
        expiresAt: body.expiresAt === undefined ? undefined : parseTimestamp(body.expiresAt, 'expiresAt'),
      });
      return keyView(key, deps.clock.now());
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/agents/{id}/keys',
    operationId: 'listAgentKeys',
    summary: "An agent's public keys, with their status",
    tag: 'credentials',
    access: 'authenticated',
    params: S.IdParams('agt'),
    response: Type.Object({ items: Type.Array(S.AgentKey) }),
    handler: async ({ deps, actor, params }) => ({
      items: (await listAgentKeys(deps, actor, params.id)).map((k) => keyView(k, deps.clock.now())),
    }),
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/agents/{id}/keys/{kid}',
    operationId: 'revokeAgentKey',
    summary: 'Revoke an agent key; tokens obtained with it become inactive at once',
    tag: 'credentials',
    access: 'authenticated',
    params: S.AgentKeyParams,
    response: S.AgentKey,
    handler: async ({ deps, actor, params }) =>
      keyView(await revokeAgentKey(deps, actor, params.id, params.kid), deps.clock.now()),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/keys',
    operationId: 'listSigningKeys',
    summary: "The authorization server's signing keys (admin or auditor)",
    tag: 'credentials',
    access: 'authenticated',
    response: Type.Object({ items: Type.Array(S.SigningKey) }),
    handler: async ({ deps, actor }) => {
      if (actor.role === 'owner') throw new CustosError('forbidden', 'owner tokens cannot list signing keys');
      return { items: (await deps.oauth.keys.list()).map(signingKeyView) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/keys/rotate',
    operationId: 'rotateSigningKey',
    summary: 'Rotate the signing key now: next → active, active → retired (still published)',
    tag: 'credentials',
    access: 'authenticated',
    body: Type.Object({ reason: Type.Optional(S.Text(1, 1000)) }, { additionalProperties: false }),
    bodyOptional: true,
    response: Type.Object({ items: Type.Array(S.SigningKey) }),
    handler: async ({ deps, actor, body }) => {
      requireAdmin(actor, 'rotate signing keys');
      if (!(await deps.oauth.keys.rotate(actor, body.reason ?? 'manual rotation'))) {
        throw new CustosError(
          'conflict',
          'another node rotated the keys at the same moment; list them and retry if needed',
        );
      }
      return { items: (await deps.oauth.keys.list()).map(signingKeyView) };
    },
  }),
];
