import { Type } from '@sinclair/typebox';
import { addFederatedIssuer, listFederatedIssuers, removeFederatedIssuer } from '../../oauth/index.js';
import type { FederatedIssuerRecord } from '../../storage/index.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { iso } from '../views.js';

const issuerView = (f: FederatedIssuerRecord) => ({
  id: f.id,
  issuer: f.issuer,
  jwksUri: f.jwksUri,
  jwks: f.jwks === null ? null : { keys: f.jwks.keys.map((k) => ({ ...k })) },
  audiences: [...f.audiences],
  rules: f.rules.map((r) => ({ claims: { ...r.claims }, agent: r.agent })),
  createdAt: iso(f.createdAt),
});

export const federationRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/federation/issuers',
    operationId: 'addFederatedIssuer',
    summary: 'Trust an external workload-token issuer (admin)',
    tag: 'federation',
    access: 'authenticated',
    status: 201,
    body: S.AddFederatedIssuer,
    response: S.FederatedIssuer,
    handler: async ({ deps, actor, body }) => issuerView(await addFederatedIssuer(deps, actor, body)),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/federation/issuers',
    operationId: 'listFederatedIssuers',
    summary: 'Trusted workload-token issuers',
    tag: 'federation',
    access: 'authenticated',
    response: Type.Object({ items: Type.Array(S.FederatedIssuer) }),
    handler: async ({ deps, actor }) => ({
      items: (await listFederatedIssuers(deps, actor)).map(issuerView),
    }),
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/federation/issuers/{id}',
    operationId: 'removeFederatedIssuer',
    summary: 'Stop trusting a workload-token issuer (admin)',
    tag: 'federation',
    access: 'authenticated',
    status: 204,
    params: S.IdParams('fed'),
    handler: async ({ deps, actor, params }) => {
      await removeFederatedIssuer(deps, actor, params.id);
      return null;
    },
  }),
];
