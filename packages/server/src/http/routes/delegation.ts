import { Type } from '@sinclair/typebox';
import { CustosError } from '../../core/index.js';
import {
  grantConsent,
  listConsents,
  requireAdmin,
  resolveUser,
  revokeConsent,
} from '../../identity/index.js';
import { addIdentityProvider, listIdentityProviders, removeIdentityProvider } from '../../oauth/index.js';
import type { ConsentRecord, IdentityProviderRecord } from '../../storage/index.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { iso, parseTimestamp } from '../views.js';

const idpView = (i: IdentityProviderRecord) => ({
  id: i.id,
  issuer: i.issuer,
  jwksUri: i.jwksUri,
  jwks: i.jwks === null ? null : { keys: i.jwks.keys.map((k) => ({ ...k })) },
  audience: i.audience,
  claim: i.claim,
  jitUsers: i.jitUsers,
  createdAt: iso(i.createdAt),
});

const consentView = (c: ConsentRecord) => ({
  id: c.id,
  user: c.userId,
  agent: c.agentId,
  scopes: [...c.scopes],
  tools: c.tools ? [...c.tools] : null,
  createdBy: c.createdBy,
  createdAt: iso(c.createdAt),
  expiresAt: iso(c.expiresAt),
  revokedAt: c.revokedAt === null ? null : iso(c.revokedAt),
});

export const delegationRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/idps',
    operationId: 'addIdentityProvider',
    summary: 'Trust an OpenID provider for people; its tokens can be exchanged for delegated tokens (admin)',
    tag: 'delegation',
    access: 'authenticated',
    status: 201,
    body: S.AddIdentityProvider,
    response: S.IdentityProvider,
    handler: async ({ deps, actor, body }) => idpView(await addIdentityProvider(deps, actor, body)),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/idps',
    operationId: 'listIdentityProviders',
    summary: 'Trusted identity providers for people',
    tag: 'delegation',
    access: 'authenticated',
    response: Type.Object({ items: Type.Array(S.IdentityProvider) }),
    handler: async ({ deps, actor }) => ({ items: (await listIdentityProviders(deps, actor)).map(idpView) }),
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/idps/{id}',
    operationId: 'removeIdentityProvider',
    summary: 'Stop trusting an identity provider (admin)',
    tag: 'delegation',
    access: 'authenticated',
    status: 204,
    params: S.IdParams('idp'),
    handler: async ({ deps, actor, params }) => {
      await removeIdentityProvider(deps, actor, params.id);
      return null;
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/idps/{id}/links',
    operationId: 'linkIdentity',
    summary: 'Say which person a provider subject (`sub`) is (admin)',
    tag: 'delegation',
    access: 'authenticated',
    status: 201,
    params: S.IdParams('idp'),
    body: Type.Object({ subject: S.Text(1, 500), user: S.UserRef }, { additionalProperties: false }),
    response: Type.Object({ subject: Type.String(), user: Type.String() }),
    handler: async ({ deps, actor, params, body }) => {
      requireAdmin(actor, 'link identities');
      const user = await resolveUser(deps.store, body.user, 'user');
      const providers = await deps.store.identityProviders.list();
      if (!providers.some((p) => p.id === params.id))
        throw new CustosError('not_found', `unknown identity provider \`${params.id}\``);
      await deps.store.identityProviders.link(params.id, body.subject, user.id);
      return { subject: body.subject, user: user.id };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/consents',
    operationId: 'grantConsent',
    summary: 'Record that a person lets an agent act for them, for scopes, until a time',
    tag: 'delegation',
    access: 'authenticated',
    status: 201,
    body: S.GrantConsent,
    response: S.Consent,
    handler: async ({ deps, actor, body }) =>
      consentView(
        await grantConsent(deps, actor, { ...body, expiresAt: parseTimestamp(body.expiresAt, 'expiresAt') }),
      ),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/consents',
    operationId: 'listConsents',
    summary: 'Consents, optionally for one person or agent (owners see only their own)',
    tag: 'delegation',
    access: 'authenticated',
    query: Type.Object(
      { user: Type.Optional(S.UserRef), agent: Type.Optional(S.Id('agt')) },
      { additionalProperties: false },
    ),
    response: Type.Object({ items: Type.Array(S.Consent) }),
    handler: async ({ deps, actor, query }) => ({
      items: (await listConsents(deps, actor, query)).map(consentView),
    }),
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/consents/{id}',
    operationId: 'revokeConsent',
    summary: 'Withdraw a consent; tokens derived from it stop working at once',
    tag: 'delegation',
    access: 'authenticated',
    params: S.IdParams('cns'),
    response: S.Consent,
    handler: async ({ deps, actor, params }) => consentView(await revokeConsent(deps, actor, params.id)),
  }),
];
