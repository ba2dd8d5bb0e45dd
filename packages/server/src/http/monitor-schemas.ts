import { Type } from '@sinclair/typebox';
import { Agent, Id, PageQuery, Text, Timestamp } from './schemas.js';

/** Wire schemas of the monitor's API (activity, baselines, findings, kill switch). */

const Severity = Type.Union([
  Type.Literal('low'),
  Type.Literal('medium'),
  Type.Literal('high'),
  Type.Literal('critical'),
]);
const FindingStatus = Type.Union([
  Type.Literal('open'),
  Type.Literal('acknowledged'),
  Type.Literal('resolved'),
  Type.Literal('false_positive'),
]);
const DetectorId = Type.String({ pattern: '^[a-z][a-z-]{1,40}$', description: 'a detector id' });

export const ReportedActivity = Type.Object(
  {
    agent: Id('agt'),
    at: Type.Optional(Timestamp),
    kind: Type.Optional(Type.Union([Type.Literal('call'), Type.Literal('decision'), Type.Literal('token')])),
    action: Text(1, 200, 'what the agent did: `tools/call`, `http:POST`, `resources/read`…'),
    resource: Type.Optional(
      Type.Object(
        {
          type: Type.String({
            pattern: '^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$',
            maxLength: 200,
          }),
          id: Text(1, 1000),
        },
        { additionalProperties: false, description: 'the resource as Cedar names it (`Tool`, `Route`, …)' },
      ),
    ),
    outcome: Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('error')]),
    sourceAddress: Type.Optional(
      Type.String({ minLength: 2, maxLength: 64, description: "the agent's IP address" }),
    ),
    tokenId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, description: 'the access token’s `jti`' }),
    ),
    onBehalfOf: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
    bytes: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 2 ** 40, description: 'bytes returned to the agent' }),
    ),
    tags: Type.Optional(
      Type.Array(Type.String({ pattern: '^[a-z0-9][a-z0-9_.:-]{0,63}$' }), {
        maxItems: 20,
        uniqueItems: true,
        description: 'tags of the resource: `sensitive`, `egress`',
      }),
    ),
  },
  { additionalProperties: false },
);
export const ReportActivity = Type.Object(
  { events: Type.Array(ReportedActivity, { minItems: 1, maxItems: 500 }) },
  { additionalProperties: false },
);
export const ActivityAccepted = Type.Object({
  accepted: Type.Integer(),
  seqs: Type.Array(Type.Integer(), { description: 'audit sequence numbers of the recorded events' }),
});

export const ActivityQuery = Type.Object(
  {
    from: Type.Optional(Timestamp),
    to: Type.Optional(Timestamp),
    bucket: Type.Optional(
      Type.Union([
        Type.Literal('1m'),
        Type.Literal('5m'),
        Type.Literal('15m'),
        Type.Literal('1h'),
        Type.Literal('1d'),
      ]),
    ),
  },
  { additionalProperties: false },
);
const Count = (key: string) =>
  Type.Object({ [key]: Type.String(), events: Type.Integer(), lastAt: Timestamp });
export const ActivityView = Type.Object({
  agent: Id('agt'),
  from: Timestamp,
  to: Timestamp,
  bucketSeconds: Type.Integer(),
  events: Type.Integer(),
  truncated: Type.Boolean({ description: 'more events than one view reads: narrow the range' }),
  calls: Type.Integer(),
  denied: Type.Integer(),
  denyRate: Type.Number(),
  tokens: Type.Integer(),
  bytes: Type.Integer(),
  timeline: Type.Array(
    Type.Object({ at: Timestamp, calls: Type.Integer(), denied: Type.Integer(), tokens: Type.Integer() }),
  ),
  resources: Type.Array(
    Type.Object({
      resource: Type.String(),
      calls: Type.Integer(),
      denied: Type.Integer(),
      lastAt: Timestamp,
    }),
  ),
  sourceAddresses: Type.Array(Count('address')),
  onBehalfOf: Type.Array(Count('user')),
});

export const BaselineView = Type.Object({
  agent: Id('agt'),
  learned: Type.Boolean({ description: 'false until the agent’s first activity' }),
  learning: Type.Boolean({ description: 'in its learning period: only hard rules alert' }),
  learningEndsAt: Type.Union([Timestamp, Type.Null()]),
  firstSeen: Type.Union([Timestamp, Type.Null()]),
  lastSeen: Type.Union([Timestamp, Type.Null()]),
  events: Type.Number(),
  resources: Type.Array(Type.String()),
  sourceAddresses: Type.Array(Type.String()),
  callPeakPerMinute: Type.Number(),
  tokenPeakPerMinute: Type.Number(),
  bytesPeak: Type.Number(),
  denyRatio: Type.Number(),
  hourOfWeek: Type.Array(Type.Number(), {
    description: 'learned activity by UTC hour of the week, Monday 00:00 first',
  }),
});

export const Finding = Type.Object({
  id: Id('fnd'),
  detector: Type.String(),
  severity: Severity,
  status: FindingStatus,
  agent: Id('agt'),
  title: Type.String(),
  explanation: Type.String(),
  evidence: Type.Array(Type.Record(Type.String(), Type.Unknown()), {
    description: 'the events that show it; `seq` is their audit sequence number',
  }),
  occurrences: Type.Integer(),
  firstSeen: Timestamp,
  lastSeen: Timestamp,
  response: Type.Union([Type.String(), Type.Null()], { description: 'the automatic response taken' }),
  statusReason: Type.Union([Type.String(), Type.Null()]),
  statusBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export const FindingQuery = Type.Object(
  {
    ...PageQuery.properties,
    status: Type.Optional(FindingStatus),
    agent: Type.Optional(Id('agt')),
    detector: Type.Optional(DetectorId),
    severity: Type.Optional(Severity),
  },
  { additionalProperties: false },
);
export const FindingParams = Type.Object({ id: Id('fnd') }, { additionalProperties: false });
export const OptionalReason = Type.Object(
  { reason: Type.Optional(Text(1, 1000, 'why; recorded in the audit log')) },
  { additionalProperties: false },
);

export const KillResult = Type.Object({
  agent: Agent,
  revokedKeys: Type.Array(Type.String()),
  revokedTokens: Type.Integer(),
});

export const Restriction = Type.Object({
  agent: Id('agt'),
  mode: Type.Literal('approval_required'),
  findingId: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String(),
  createdBy: Type.String(),
  createdAt: Timestamp,
});

export const MonitorStatus = Type.Object({
  enabled: Type.Boolean(),
  cursor: Type.Union([Type.Integer(), Type.Null()], {
    description: 'the last audit sequence number processed',
  }),
  head: Type.Integer({ description: 'the audit log’s last sequence number' }),
  learningSeconds: Type.Integer(),
  detectors: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
  responseRules: Type.Array(Type.String()),
  pendingDeliveries: Type.Integer(),
  findings: Type.Record(Type.String(), Type.Integer()),
});

export const Jwks = Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) });
