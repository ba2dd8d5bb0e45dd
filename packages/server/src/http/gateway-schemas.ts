import { Type } from '@sinclair/typebox';
import { SecretName, Text, Timestamp } from './schemas.js';

/**
 * Wire schemas of the gateway's admin resources (`/api/v1/gateway/…`). Kept
 * apart from `schemas.ts` (which they build on) so the gateway's surface reads
 * in one place.
 */

export const UpstreamName = Type.String({
  pattern: '^[a-z0-9][a-z0-9_-]{0,62}$',
  description: 'lowercase letters, digits, `-` and `_`; part of the resource URI and of Cedar entity ids',
});
const HttpUrl = Type.String({ maxLength: 2000, pattern: '^https?://[^\\s#?]+$' });
const RateLimit = Type.Object(
  {
    rate: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000, description: 'requests per second' }),
    burst: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
  },
  { additionalProperties: false },
);
export const Limits = Type.Object(
  {
    perAgent: Type.Optional(RateLimit),
    perTool: Type.Optional(
      Type.Unsafe<{ rate: number; burst: number }>({
        ...RateLimit,
        description: 'per agent and tool (MCP) or route (HTTP)',
      }),
    ),
  },
  { additionalProperties: false },
);
const HeaderName = Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$" });
export const Auth = Type.Union([
  Type.Object({ type: Type.Literal('none') }, { additionalProperties: false }),
  Type.Object(
    {
      type: Type.Literal('header'),
      header: HeaderName,
      secret: SecretName,
      prefix: Type.Optional(Text(0, 100)),
    },
    { additionalProperties: false },
  ),
  Type.Object({ type: Type.Literal('bearer'), secret: SecretName }, { additionalProperties: false }),
  Type.Object(
    {
      type: Type.Literal('oauth_client_credentials'),
      tokenUrl: HttpUrl,
      clientId: Text(1, 500),
      clientSecret: SecretName,
      scope: Type.Optional(Text(1, 1000)),
      resource: Type.Optional(HttpUrl),
      method: Type.Optional(
        Type.Union([Type.Literal('client_secret_basic'), Type.Literal('client_secret_post')]),
      ),
    },
    { additionalProperties: false },
  ),
]);
const EnvName = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' });
export const Transport = Type.Union([
  Type.Object({ type: Type.Literal('http'), url: HttpUrl }, { additionalProperties: false }),
  Type.Object(
    {
      type: Type.Literal('stdio'),
      command: Text(1, 1000),
      args: Type.Optional(Type.Array(Text(0, 4000), { maxItems: 100 })),
      env: Type.Optional(Type.Record(EnvName, Text(0, 4000), { maxProperties: 100 })),
      secretEnv: Type.Optional(
        Type.Record(EnvName, SecretName, { maxProperties: 100, description: 'variable → vault secret name' }),
      ),
      cwd: Type.Optional(Text(1, 1000)),
    },
    { additionalProperties: false },
  ),
]);
export const AddMcpServer = Type.Object(
  {
    name: UpstreamName,
    description: Type.Optional(Text(0, 1000)),
    transport: Transport,
    auth: Type.Optional(Auth),
    limits: Type.Optional(Limits),
  },
  { additionalProperties: false },
);
const Method = Type.Union(
  ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => Type.Literal(m as 'GET')),
);
export const AddHttpApi = Type.Object(
  {
    name: UpstreamName,
    description: Type.Optional(Text(0, 1000)),
    baseUrl: HttpUrl,
    routes: Type.Array(Type.Object({ method: Method, path: Text(1, 500) }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: 500,
    }),
    auth: Type.Optional(Auth),
    limits: Type.Optional(Limits),
  },
  { additionalProperties: false },
);
const Sync = Type.Object({
  schemaApplied: Type.Boolean({ description: 'the Cedar schema was extended or narrowed' }),
  warnings: Type.Array(Type.String()),
});
export const McpServerView = Type.Object({
  name: Type.String(),
  description: Type.String(),
  resource: Type.String({ description: 'the resource URI agents get tokens for (`aud`)' }),
  transport: Type.Unknown(),
  auth: Type.Unknown({ description: 'how the gateway authenticates upstream: secret names, never values' }),
  limits: Type.Unknown(),
  tools: Type.Array(
    Type.Object({
      name: Type.String(),
      entity: Type.String({ description: 'the Cedar uid, `Tool::"<server>/<tool>"`' }),
      description: Type.String(),
      arguments: Type.Record(Type.String(), Type.String(), {
        description: 'argument → Cedar type (`context.input.<argument>`)',
      }),
    }),
  ),
  catalogUpdatedAt: Type.Union([Timestamp, Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  sync: Type.Optional(Sync),
});
export const HttpApiView = Type.Object({
  name: Type.String(),
  description: Type.String(),
  resource: Type.String(),
  baseUrl: Type.String(),
  routes: Type.Array(Type.Object({ method: Type.String(), path: Type.String(), entity: Type.String() })),
  auth: Type.Unknown(),
  limits: Type.Unknown(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  sync: Type.Optional(Sync),
});
