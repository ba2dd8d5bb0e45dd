import { type Static, type TSchema, Type } from '@sinclair/typebox';

/**
 * Wire schemas of the admin API. They validate requests at the edge and generate
 * the OpenAPI 3.1 document, so the two cannot drift apart.
 */

// Printable text: no control characters. SQL- or markup-looking text is fine and kept verbatim.
const PRINTABLE = '^[^\\u0000-\\u001f\\u007f]*$';
export const Text = (min: number, max: number, description?: string) =>
  Type.String({
    minLength: min,
    maxLength: max,
    pattern: PRINTABLE,
    ...(description ? { description } : {}),
  });

export const Timestamp = Type.String({
  format: 'date-time',
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$',
  description: 'RFC 3339 date-time',
});
export const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' });
export const UserRef = Type.String({
  minLength: 1,
  maxLength: 254,
  description: 'a user id (`usr_…`) or email',
});
export const TeamName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' });
export const Environment = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' });
export const RiskLevel = Type.Union([
  Type.Literal('low'),
  Type.Literal('medium'),
  Type.Literal('high'),
  Type.Literal('critical'),
]);
export const Tags = Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.:/-]{1,64}$' }), Text(0, 256), {
  maxProperties: 50,
  description: 'key/value labels',
});
// RFC 6749 §3.3 scope-token
export const ScopeToken = Type.String({ pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,200}$' });
export const Audience = Type.String({
  minLength: 1,
  maxLength: 2000,
  pattern: '^[a-zA-Z][a-zA-Z0-9+.-]*:[^\\s#]*$',
  description: 'absolute URI without a fragment (RFC 8707)',
});
const TokenSettings = {
  allowedScopes: Type.Optional(
    Type.Array(ScopeToken, {
      maxItems: 100,
      uniqueItems: true,
      description: 'scopes the agent may be issued (interim allow-list)',
    }),
  ),
  allowedAudiences: Type.Optional(
    Type.Array(Audience, {
      maxItems: 100,
      uniqueItems: true,
      description: 'resources (audiences) the agent may get tokens for',
    }),
  ),
  requireDpop: Type.Optional(Type.Boolean({ description: 'refuse token requests without a DPoP proof' })),
};

export const Reason = Type.Object(
  { reason: Text(1, 1000, 'why; recorded in the audit log') },
  {
    additionalProperties: false,
  },
);

export const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9a-z]{26}$` });
export const IdParams = (prefix: string) => Type.Object({ id: Id(prefix) }, { additionalProperties: false });

const PageQueryFields = {
  cursor: Type.Optional(
    Type.String({ maxLength: 200, description: 'the `nextCursor` of the previous page' }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
};
export const PageQuery = Type.Object(PageQueryFields, { additionalProperties: false });

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

// ---- users

export const User = Type.Object({
  id: Id('usr'),
  email: Type.String(),
  name: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('deactivated')]),
  managerId: Type.Union([Id('usr'), Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export const CreateUser = Type.Object(
  { email: Email, name: Text(1, 200), manager: Type.Optional(UserRef) },
  { additionalProperties: false },
);
export const UpdateUser = Type.Object(
  {
    email: Type.Optional(Email),
    name: Type.Optional(Text(1, 200)),
    manager: Type.Optional(Type.Union([UserRef, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export const UserParams = Type.Object({ id: UserRef }, { additionalProperties: false });
export const UserQuery = Type.Object(
  {
    ...PageQueryFields,
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('deactivated')])),
    q: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

// ---- teams

export const Team = Type.Object({
  name: TeamName,
  description: Type.String(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export const CreateTeam = Type.Object(
  { name: TeamName, description: Type.Optional(Text(0, 1000)) },
  { additionalProperties: false },
);

// ---- agents

export const AgentStatus = Type.Union([
  Type.Literal('active'),
  Type.Literal('suspended'),
  Type.Literal('decommissioned'),
]);
export const Agent = Type.Object({
  id: Id('agt'),
  name: Type.String(),
  owner: Type.Object({ id: Id('usr'), email: Type.String() }),
  team: Type.Union([TeamName, Type.Null()]),
  purpose: Type.String(),
  environment: Environment,
  tags: Tags,
  riskLevel: RiskLevel,
  status: AgentStatus,
  statusReason: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Timestamp,
  allowedScopes: Type.Array(Type.String()),
  allowedAudiences: Type.Array(Type.String()),
  requireDpop: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export const CreateAgent = Type.Object(
  {
    name: Text(1, 200),
    owner: UserRef,
    team: Type.Optional(TeamName),
    purpose: Type.Optional(Text(0, 2000)),
    environment: Type.Optional(Environment),
    tags: Type.Optional(Tags),
    riskLevel: Type.Optional(RiskLevel),
    expiresAt: Type.Optional(Timestamp),
    ...TokenSettings,
  },
  { additionalProperties: false },
);
export const UpdateAgent = Type.Object(
  {
    name: Type.Optional(Text(1, 200)),
    owner: Type.Optional(UserRef),
    team: Type.Optional(Type.Union([TeamName, Type.Null()])),
    purpose: Type.Optional(Text(0, 2000)),
    environment: Type.Optional(Environment),
    tags: Type.Optional(Tags),
    riskLevel: Type.Optional(RiskLevel),
    expiresAt: Type.Optional(Timestamp),
    ...TokenSettings,
  },
  { additionalProperties: false, minProperties: 1 },
);
export const AgentQuery = Type.Object(
  {
    ...PageQueryFields,
    owner: Type.Optional(UserRef),
    team: Type.Optional(TeamName),
    status: Type.Optional(AgentStatus),
    environment: Type.Optional(Environment),
    tag: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z0-9_.:/-]{1,64}=.{0,256}$' }), {
        maxItems: 20,
        description: 'key=value; repeat to require several',
      }),
    ),
    q: Type.Optional(
      Type.String({ maxLength: 200, description: 'case-insensitive text in id, name or purpose' }),
    ),
  },
  { additionalProperties: false },
);
export const StatusChange = Type.Object({
  at: Timestamp,
  from: Type.Union([AgentStatus, Type.Null()]),
  to: AgentStatus,
  reason: Type.String(),
  actor: Type.String(),
});

// ---- admin tokens

export const AdminRole = Type.Union([
  Type.Literal('admin'),
  Type.Literal('auditor'),
  Type.Literal('owner'),
  Type.Literal('resource_server'),
]);
export const AdminToken = Type.Object({
  id: Id('tok'),
  name: Type.String(),
  role: AdminRole,
  userId: Type.Union([Id('usr'), Type.Null()]),
  createdBy: Type.String(),
  createdAt: Timestamp,
  expiresAt: Timestamp,
  revokedAt: Type.Union([Timestamp, Type.Null()]),
  lastUsedAt: Type.Union([Timestamp, Type.Null()]),
});
export const CreateAdminToken = Type.Object(
  {
    name: Text(1, 200),
    role: AdminRole,
    user: Type.Optional(UserRef),
    expiresAt: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);
export const CreatedAdminToken = Type.Composite([
  AdminToken,
  Type.Object({ token: Type.String({ description: 'shown once; only its hash is stored' }) }),
]);

// ---- audit

export const AuditEvent = Type.Object({
  seq: Type.Integer(),
  id: Id('evt'),
  at: Timestamp,
  requestId: Type.Union([Type.String(), Type.Null()]),
  actor: Type.Object({ type: Type.String(), id: Type.String() }),
  action: Type.String(),
  target: Type.Union([Type.Object({ type: Type.String(), id: Type.String() }), Type.Null()]),
  outcome: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
  prevHash: Type.Union([Type.String(), Type.Null()]),
  hash: Type.Union([Type.String(), Type.Null()], {
    description: 'SHA-256 over prevHash and the canonical event (RFC 8785)',
  }),
});
export const AuditCheckpoint = Type.Object({
  size: Type.Integer({ description: 'the last sequence number covered' }),
  hash: Type.String(),
  at: Timestamp,
  note: Type.String({ description: 'C2SP signed note (tlog-checkpoint)' }),
});
export const AuditKey = Type.Object({
  name: Type.String(),
  publicKey: Type.String({ description: 'base64 of the raw Ed25519 public key' }),
  vkey: Type.String({ description: 'C2SP signed-note verifier key' }),
});
/** An RFC 3339 time with its own description. */
const TimeOf = (description: string) =>
  Type.String({ format: 'date-time', pattern: Timestamp.pattern ?? '', description });
const AuditOutcome = Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')]);
export const AuditQuery = Type.Object(
  {
    ...PageQueryFields,
    target: Type.Optional(Type.String({ maxLength: 200, description: 'exact target id' })),
    action: Type.Optional(
      Type.String({
        maxLength: 100,
        pattern: '^[a-z0-9_.]+\\*?$',
        description:
          'the event type: an exact action (`agent.suspend`), or a prefix ending in `*` (`agent.*`)',
      }),
    ),
    from: Type.Optional(TimeOf('events at or after this time (RFC 3339)')),
    to: Type.Optional(TimeOf('events before this time (RFC 3339)')),
    agent: Type.Optional(
      Type.String({ maxLength: 200, description: 'events an agent did or that were done to it (`agt_…`)' }),
    ),
    user: Type.Optional(
      Type.String({
        maxLength: 254,
        description:
          "events by a user's token, by an agent acting for the user, or done to the user (id or email)",
      }),
    ),
    actor: Type.Optional(
      Type.String({ maxLength: 200, description: 'exact actor id (`tok_…`, `agt_…`, `custos`)' }),
    ),
    actorType: Type.Optional(
      Type.Union([
        Type.Literal('admin_token'),
        Type.Literal('user'),
        Type.Literal('agent'),
        Type.Literal('anonymous'),
        Type.Literal('system'),
      ]),
    ),
    outcome: Type.Optional(AuditOutcome),
    q: Type.Optional(
      Text(1, 200, 'case-insensitive text in the action, actor, target, reason, request id or details'),
    ),
    after: Type.Optional(
      Type.Integer({ minimum: 0, description: 'only events with a greater sequence number' }),
    ),
    order: Type.Optional(
      Type.Union([Type.Literal('asc'), Type.Literal('desc')], { description: '`asc` (default) or `desc`' }),
    ),
  },
  { additionalProperties: false },
);
export const AuditHead = Type.Object({
  seq: Type.Integer({ description: 'the last sequence number appended' }),
  hash: Type.String(),
  firstSeq: Type.Union([Type.Integer(), Type.Null()], { description: 'the oldest event still stored' }),
});
export const AuditPruneBody = Type.Object(
  {
    before: TimeOf('prune events recorded before this time (whole checkpointed segments)'),
    reason: Type.Optional(Text(1, 500)),
  },
  { additionalProperties: false },
);
export const AuditPruneResult = Type.Object({
  from: Type.Integer(),
  through: Type.Integer({ description: 'the last pruned sequence number: a signed checkpoint ends there' }),
  events: Type.Integer(),
  archive: Type.String({ description: 'server-side path of the JSON-lines archive' }),
  checkpoints: Type.String({ description: 'server-side path of the checkpoints that verify the archive' }),
  checkpoint: Type.String({ description: 'the signed note at `through`' }),
});
export const AuditSink = Type.Object({
  name: Type.String(),
  cursor: Type.Integer({ description: 'the last sequence number the receiver acknowledged' }),
  lag: Type.Integer({ description: 'events appended but not yet acknowledged' }),
  lastError: Type.Union([Type.String(), Type.Null()]),
  updatedAt: Timestamp,
});

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    requestId: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          pointer: Type.String(),
          detail: Type.String(),
          line: Type.Optional(Type.Integer()),
          column: Type.Optional(Type.Integer()),
        }),
      ),
    ),
  },
  { description: 'RFC 9457 problem details' },
);

export type { Static };

// ---- credentials

const JwkObject = Type.Record(Type.String({ maxLength: 20 }), Type.Unknown(), {
  maxProperties: 20,
  description: 'a public JWK (RFC 7517)',
});
export const AgentKey = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  thumbprint: Type.String({ description: 'RFC 7638 SHA-256 thumbprint' }),
  jwk: JwkObject,
  createdAt: Timestamp,
  expiresAt: Timestamp,
  revokedAt: Type.Union([Timestamp, Type.Null()]),
  status: Type.Union([Type.Literal('active'), Type.Literal('revoked'), Type.Literal('expired')]),
});
export const AddAgentKey = Type.Object(
  { jwk: JwkObject, expiresAt: Type.Optional(Timestamp) },
  { additionalProperties: false },
);
export const AgentKeyParams = Type.Object(
  { id: Id('agt'), kid: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
export const SigningKey = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  state: Type.Union([Type.Literal('next'), Type.Literal('active'), Type.Literal('retired')]),
  createdAt: Timestamp,
  activatedAt: Type.Union([Timestamp, Type.Null()]),
  retiredAt: Type.Union([Timestamp, Type.Null()]),
  publishUntil: Type.Union([Timestamp, Type.Null()]),
});

// ---- workload identity federation

const HttpUrl = Type.String({ maxLength: 2000, pattern: '^https?://[^\\s#]+$' });
export const FederationRule = Type.Object(
  {
    claims: Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.String({ maxLength: 1000 }), {
      minProperties: 1,
      maxProperties: 20,
      description: 'every claim must equal the value',
    }),
    agent: Id('agt'),
  },
  { additionalProperties: false },
);
export const FederatedIssuer = Type.Object({
  id: Id('fed'),
  issuer: Type.String(),
  jwksUri: Type.Union([Type.String(), Type.Null()]),
  jwks: Type.Union([Type.Object({ keys: Type.Array(JwkObject) }), Type.Null()]),
  audiences: Type.Array(Type.String()),
  rules: Type.Array(FederationRule),
  createdAt: Timestamp,
});
export const AddFederatedIssuer = Type.Object(
  {
    issuer: HttpUrl,
    jwks: Type.Optional(
      Type.Object(
        { keys: Type.Array(JwkObject, { minItems: 1, maxItems: 50 }) },
        { additionalProperties: false },
      ),
    ),
    jwksUri: Type.Optional(HttpUrl),
    audiences: Type.Array(Type.String({ minLength: 1, maxLength: 2000 }), {
      minItems: 1,
      maxItems: 20,
      uniqueItems: true,
    }),
    rules: Type.Array(FederationRule, { minItems: 1, maxItems: 100 }),
  },
  { additionalProperties: false },
);

// ---- vault

export const SecretName = Type.String({ pattern: '^[a-z0-9][a-z0-9._/-]{0,127}$' });
export const SecretInfo = Type.Object({
  name: SecretName,
  description: Type.String(),
  version: Type.Integer(),
  createdBy: Type.String(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export const PutSecret = Type.Object(
  {
    value: Type.String({ minLength: 1, maxLength: 65_536, description: 'write-only: never returned' }),
    description: Type.Optional(Text(0, 1000)),
  },
  { additionalProperties: false },
);

// ---- delegation

export const IdentityProvider = Type.Object({
  id: Id('idp'),
  issuer: Type.String(),
  jwksUri: Type.Union([Type.String(), Type.Null()]),
  jwks: Type.Union([
    Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) }),
    Type.Null(),
  ]),
  audience: Type.String(),
  claim: Type.Union([Type.Literal('sub'), Type.Literal('email')]),
  jitUsers: Type.Boolean(),
  createdAt: Timestamp,
});
export const AddIdentityProvider = Type.Object(
  {
    issuer: Type.String({ maxLength: 2000, pattern: '^https?://[^\\s#]+$' }),
    jwks: Type.Optional(
      Type.Object(
        {
          keys: Type.Array(Type.Record(Type.String({ maxLength: 20 }), Type.Unknown()), {
            minItems: 1,
            maxItems: 50,
          }),
        },
        { additionalProperties: false },
      ),
    ),
    jwksUri: Type.Optional(Type.String({ maxLength: 2000, pattern: '^https?://[^\\s#]+$' })),
    audience: Type.String({ minLength: 1, maxLength: 2000 }),
    claim: Type.Optional(Type.Union([Type.Literal('sub'), Type.Literal('email')])),
    jitUsers: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const Consent = Type.Object({
  id: Id('cns'),
  user: Id('usr'),
  agent: Id('agt'),
  scopes: Type.Array(Type.String()),
  tools: Type.Union([Type.Array(Type.String()), Type.Null()]),
  createdBy: Type.String(),
  createdAt: Timestamp,
  expiresAt: Timestamp,
  revokedAt: Type.Union([Timestamp, Type.Null()]),
});
export const GrantConsent = Type.Object(
  {
    user: UserRef,
    agent: Id('agt'),
    scopes: Type.Array(ScopeToken, { minItems: 1, maxItems: 100, uniqueItems: true }),
    tools: Type.Optional(
      Type.Array(
        Type.String({
          pattern: '^[a-z0-9][a-z0-9_-]{0,62}/([^/*\\s][^\\s]{0,199}|\\*)$',
          description: '`server/tool`, or `server/*` for every tool of the server',
        }),
        { minItems: 1, maxItems: 100, uniqueItems: true },
      ),
    ),
    expiresAt: Timestamp,
  },
  { additionalProperties: false },
);
