import { Type } from '@sinclair/typebox';
import { Id, Page, Text, Timestamp } from './schemas.js';

/**
 * Wire schemas of the policy admin API (policies, grants, entities, schema).
 * Like `schemas.ts`, they validate requests and generate the OpenAPI document.
 */

/** Large enough for a policy directory of thousands of policies. */
export const POLICY_BODY_LIMIT = 16 * 1024 * 1024;

const Reason = Text(1, 1000, 'why; recorded in the policy history and the audit log');
const PolicyMode = Type.Union([Type.Literal('enforce'), Type.Literal('shadow')]);
const PolicyId = Type.String({ minLength: 1, maxLength: 200 });
const CedarText = Type.String({ maxLength: 1_000_000 });

const SetFields = {
  policies: Type.Optional(
    Type.Array(Type.Object({ id: PolicyId, text: CedarText }, { additionalProperties: false }), {
      maxItems: 100_000,
      description: 'the whole set: one static Cedar policy per item',
    }),
  ),
  sources: Type.Optional(
    Type.Array(
      Type.Object(
        { name: Type.String({ minLength: 1, maxLength: 500 }), text: CedarText },
        { additionalProperties: false },
      ),
      {
        maxItems: 10_000,
        description: 'the whole set as Cedar files; ids from `@id("…")`, else the file name',
      },
    ),
  ),
};
export const PolicySetBody = Type.Object(SetFields, { additionalProperties: false });

export const PutPolicies = Type.Object(
  {
    ...SetFields,
    mode: Type.Optional(PolicyMode),
    reason: Reason,
    dryRun: Type.Optional(Type.Boolean({ description: 'validate and show the diff; change nothing' })),
  },
  { additionalProperties: false },
);

const Diff = Type.Object({
  added: Type.Array(Type.String()),
  changed: Type.Array(Type.String()),
  removed: Type.Array(Type.String()),
  unchanged: Type.Integer(),
});
const Message = Type.Object({ policyId: Type.Union([Type.String(), Type.Null()]), message: Type.String() });

export const PutPoliciesResult = Type.Object({
  mode: PolicyMode,
  version: Type.Integer(),
  applied: Type.Boolean(),
  diff: Diff,
  warnings: Type.Array(Message),
});

export const PolicyQuery = Type.Object(
  {
    mode: Type.Optional(PolicyMode),
    version: Type.Optional(Type.Integer({ minimum: 0, description: 'the set as it was at this version' })),
  },
  { additionalProperties: false },
);

export const PolicySet = Type.Object({
  mode: PolicyMode,
  version: Type.Integer(),
  active: Type.Boolean(),
  policies: Type.Array(
    Type.Object({
      id: Type.String(),
      text: Type.String(),
      effect: Type.Optional(Type.String()),
      version: Type.Optional(Type.Integer()),
    }),
  ),
});

const VersionView = Type.Object({
  version: Type.Integer(),
  at: Timestamp,
  actor: Type.Object({ type: Type.String(), id: Type.String() }),
  kind: Type.String(),
  mode: Type.Union([PolicyMode, Type.Null()]),
  reason: Type.String(),
  summary: Type.Record(Type.String(), Type.Unknown()),
});
export const PolicyVersion = VersionView;

export const PolicyDetail = Type.Object({
  id: Type.String(),
  enforce: Type.Union([Type.Object({ text: Type.String(), version: Type.Integer() }), Type.Null()]),
  shadow: Type.Union([Type.Object({ text: Type.String(), version: Type.Integer() }), Type.Null()]),
  history: Type.Array(
    Type.Object({
      mode: PolicyMode,
      version: Type.Integer(),
      text: Type.Union([Type.String(), Type.Null()]),
      change: Type.Union([VersionView, Type.Null()]),
    }),
  ),
});
export const PolicyIdParams = Type.Object({ id: PolicyId }, { additionalProperties: false });

export const ValidateResult = Type.Object({
  valid: Type.Boolean(),
  policies: Type.Integer(),
  errors: Type.Array(
    Type.Object({
      pointer: Type.String(),
      detail: Type.String(),
      line: Type.Optional(Type.Integer({ description: '1-based line in the policy text, when known' })),
      column: Type.Optional(Type.Integer()),
    }),
  ),
  warnings: Type.Array(Message),
});

export const ReasonBody = Type.Object({ reason: Reason }, { additionalProperties: false });

export const AuthzenEntityShape = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: 200 }),
    id: Type.String({ maxLength: 2000 }),
    properties: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
export const PolicyTestCase = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 500 }),
    subject: AuthzenEntityShape,
    action: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 200 }),
        properties: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      },
      { additionalProperties: false },
    ),
    resource: AuthzenEntityShape,
    context: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    expect: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
  },
  { additionalProperties: false },
);
export const PolicyTests = Type.Object(
  { ...SetFields, cases: Type.Array(PolicyTestCase, { minItems: 1, maxItems: 10_000 }) },
  { additionalProperties: false },
);
const ErrorList = Type.Array(
  Type.Object({ policyId: Type.Union([Type.String(), Type.Null()]), message: Type.String() }),
);
export const PolicyTestsResult = Type.Object({
  version: Type.Integer(),
  passed: Type.Integer(),
  failed: Type.Integer(),
  results: Type.Array(
    Type.Object({
      name: Type.String(),
      expected: Type.String(),
      actual: Type.String(),
      pass: Type.Boolean(),
      policies: Type.Array(Type.String()),
      errors: ErrorList,
    }),
  ),
});

export const WhatIf = Type.Object(
  {
    ...SetFields,
    last: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100_000,
        default: 1000,
        description: 'how many recorded decisions to replay',
      }),
    ),
  },
  { additionalProperties: false },
);
const Uid = Type.Object({ type: Type.String(), id: Type.String() });
export const WhatIfResult = Type.Object({
  version: Type.Integer(),
  examined: Type.Integer(),
  changed: Type.Array(
    Type.Object({
      seq: Type.Integer(),
      at: Timestamp,
      request: Type.Object({
        principal: Uid,
        action: Type.String(),
        resource: Uid,
        context: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
        principalProperties: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
        resourceProperties: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      }),
      recorded: Type.String(),
      current: Type.String(),
      proposed: Type.String(),
      proposedPolicies: Type.Array(Type.String()),
      proposedErrors: ErrorList,
    }),
  ),
});

export const PromoteResult = Type.Object({ version: Type.Integer(), diff: Type.Optional(Diff) });

export const VersionsQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);
export const VersionsPage = Page(VersionView);

// ---- grants

const PrincipalRef = Type.Object(
  {
    type: Type.Union([Type.Literal('Agent'), Type.Literal('Team'), Type.Literal('User')], {
      description: '`User`: a person (id or email), for what people may do themselves or delegate',
    }),
    id: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);
const ResourceRef = Type.Object(
  { type: Type.String({ minLength: 1, maxLength: 200 }), id: Type.String({ minLength: 1, maxLength: 2000 }) },
  { additionalProperties: false },
);
export const AddGrant = Type.Object(
  {
    principal: PrincipalRef,
    action: Type.String({ minLength: 1, maxLength: 200, description: 'e.g. `tools/call`' }),
    resource: ResourceRef,
    scope: Type.Optional(
      Type.Union([Type.Literal('eq'), Type.Literal('in')], {
        description: '`in`: every resource inside `resource` (e.g. every tool of an MCP server)',
      }),
    ),
    condition: Type.Optional(Type.String({ maxLength: 10_000, description: 'a Cedar boolean expression' })),
    expiresAt: Type.Optional(Timestamp),
    reason: Reason,
  },
  { additionalProperties: false },
);
export const Grant = Type.Object({
  id: Id('grt'),
  principal: Type.Object({ type: Type.String(), id: Type.String() }),
  action: Type.String(),
  resource: Type.Object({ type: Type.String(), id: Type.String() }),
  scope: Type.String(),
  condition: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.Union([Timestamp, Type.Null()]),
  status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
  createdAt: Timestamp,
  createdBy: Type.String(),
  reason: Type.String(),
  version: Type.Integer(),
  revokedAt: Type.Union([Timestamp, Type.Null()]),
  revokedBy: Type.Union([Type.String(), Type.Null()]),
  revokeReason: Type.Union([Type.String(), Type.Null()]),
});
export const GrantQuery = Type.Object(
  {
    agent: Type.Optional(Id('agt')),
    team: Type.Optional(Type.String({ maxLength: 64 })),
    user: Type.Optional(Id('usr')),
    live: Type.Optional(Type.Boolean({ description: 'only grants in force now' })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);

// ---- entities

const UidJson = Type.Union([
  Type.Object(
    { type: Type.String({ minLength: 1, maxLength: 200 }), id: Type.String({ maxLength: 2000 }) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      __entity: Type.Object(
        { type: Type.String({ minLength: 1, maxLength: 200 }), id: Type.String({ maxLength: 2000 }) },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false },
  ),
]);
export const EntityJson = Type.Object(
  {
    uid: UidJson,
    attrs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    parents: Type.Optional(Type.Array(UidJson, { maxItems: 1000 })),
    tags: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false, description: "an entity in Cedar's JSON entity format" },
);
export const UpsertEntities = Type.Object(
  {
    entities: Type.Array(EntityJson, { minItems: 1, maxItems: 10_000 }),
    reason: Type.Optional(Text(1, 1000)),
  },
  { additionalProperties: false },
);
export const UpsertEntitiesResult = Type.Object({
  upserted: Type.Integer(),
  uids: Type.Array(Type.String()),
});
export const EntityQuery = Type.Object(
  {
    type: Type.Optional(Type.String({ maxLength: 200 })),
    cursor: Type.Optional(Type.String({ maxLength: 1000 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);
export const EntityParams = Type.Object(
  { type: Type.String({ minLength: 1, maxLength: 200 }), id: Type.String({ minLength: 1, maxLength: 2000 }) },
  { additionalProperties: false },
);
export const EntityOut = Type.Object({
  uid: Type.Object({ type: Type.String(), id: Type.String() }),
  attrs: Type.Record(Type.String(), Type.Unknown()),
  parents: Type.Array(Type.Unknown()),
  tags: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

// ---- schema

export const PutSchema = Type.Object(
  {
    text: Type.String({ maxLength: 1_000_000, description: 'the extension, in Cedar schema syntax' }),
    reason: Reason,
    dryRun: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const SchemaView = Type.Object({
  version: Type.Integer(),
  text: Type.String(),
  core: Type.String(),
  defaultExtension: Type.String(),
  effective: Type.String(),
});
export const PutSchemaResult = Type.Object({ version: Type.Integer(), applied: Type.Boolean() });
