import { isIP } from 'node:net';
import type { AuditEventRecord } from '../storage/index.js';

/** What an activity is: a token request, a call an agent made, or a decision an enforcement point asked for. */
export type ActivityKind = 'token' | 'call' | 'decision';
export type ActivityOutcome = 'allow' | 'deny' | 'error';

/**
 * One thing an agent did, normalised from the audit event that recorded it.
 * The audit log is the only source: the monitor never keeps activity of its own.
 */
export interface ActivityEvent {
  /** The audit event's sequence number (evidence points back to it). */
  readonly seq: number;
  /** When it happened (epoch ms): the reported time for ingested activity, else the audit time. */
  readonly at: number;
  readonly agentId: string;
  readonly kind: ActivityKind;
  /** `token:issue`, `token:exchange`, `tools/call`, `resources/read`, `http:GET`, … */
  readonly action: string;
  /** The resource as Cedar names it (`Tool::"crm/export"`), or null (token requests). */
  readonly resource: string | null;
  /** The resource's id alone (`crm/export`): what tag patterns match. */
  readonly resourceId: string | null;
  readonly outcome: ActivityOutcome;
  /** The caller's IP address, normalised (IPv4-mapped IPv6 as IPv4), or null when unknown. */
  readonly sourceAddress: string | null;
  /** The credential behind the call: `key:<kid>`, `federation:<id>`, or null. */
  readonly credential: string | null;
  /** The access token's `jti`, when known. */
  readonly tokenId: string | null;
  /** The human the agent acted for, when delegated. */
  readonly onBehalfOf: string | null;
  /** Bytes returned to the agent (0 when unknown). */
  readonly bytes: number;
  /** Tags the reporter gave the resource (e.g. `sensitive`, `egress`). */
  readonly tags: readonly string[];
  /** The audit action it came from (`token.issue`, `gateway.call`, `activity.report`, …). */
  readonly origin: string;
}

/** The audit action of activity reported through `POST /api/v1/activity`. */
export const ACTIVITY_REPORT = 'activity.report';

/** The gateway's record of one call. */
export const GATEWAY_CALL = 'gateway.call';

/** Audit actions the monitor reads as activity. */
export const ACTIVITY_ACTIONS: readonly string[] = [
  'token.issue',
  'token.refuse',
  'token.exchange',
  'policy.decision',
  GATEWAY_CALL,
  ACTIVITY_REPORT,
];

/** Whether an audit action can carry activity (cheap pre-filter before parsing details). */
export function isActivityAction(action: string): boolean {
  return ACTIVITY_ACTIONS.includes(action);
}

type Details = Readonly<Record<string, unknown>>;
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const obj = (v: unknown): Details | null =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Details) : null;

/** A source address as one canonical string (`::ffff:10.0.0.1` → `10.0.0.1`); null when not an IP. */
export function normalizeAddress(value: unknown): string | null {
  const text = str(value);
  if (text === null) return null;
  const bare = text.startsWith('::ffff:') && isIP(text.slice(7)) === 4 ? text.slice(7) : text;
  return isIP(bare) === 0 ? null : bare.toLowerCase();
}

/** Cedar's text for an entity uid: `Type::"id"` (quotes and backslashes escaped). */
export function resourceText(type: string, id: string): string {
  return `${type}::"${id.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** `deny` is a policy's (or the token endpoint's) refusal; a rate limit or an upstream failure is an `error`. */
function outcomeOf(e: AuditEventRecord): ActivityOutcome {
  if (e.outcome === 'success') return 'allow';
  if (e.outcome === 'denied' && e.details.decision !== 'rate_limited') return 'deny';
  return 'error';
}

function tagsOf(v: unknown): readonly string[] {
  return Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string') : [];
}

function bytesOf(d: Details): number {
  for (const key of ['bytes', 'responseBytes', 'bytesOut']) {
    const v = d[key];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.floor(v);
  }
  return 0;
}

/** The agent an event is about: its actor when an agent acted, else the agent it targets. */
function agentOf(e: AuditEventRecord): string | null {
  if (e.actorType === 'agent') return e.actorId;
  return e.targetType === 'agent' ? e.targetId : null;
}

interface Parts {
  kind: ActivityKind;
  action: string;
  type: string | null;
  id: string | null;
  at?: number;
  sourceAddress?: unknown;
  credential?: unknown;
  tokenId?: unknown;
  bytes?: number;
  tags?: readonly string[];
}

function build(e: AuditEventRecord, agentId: string, p: Parts): ActivityEvent {
  const d = e.details;
  return {
    seq: e.seq,
    at: p.at ?? e.at,
    agentId,
    kind: p.kind,
    action: p.action,
    resource: p.type !== null && p.id !== null ? resourceText(p.type, p.id) : null,
    resourceId: p.id,
    outcome: outcomeOf(e),
    sourceAddress: normalizeAddress(p.sourceAddress ?? d.sourceAddress),
    credential: str(p.credential ?? d.credential),
    tokenId: str(p.tokenId ?? d.tokenId),
    onBehalfOf: str(d.onBehalfOf),
    bytes: p.bytes ?? 0,
    tags: p.tags ?? [],
    origin: e.action,
  };
}

const TARGET_TYPES: Readonly<Record<string, string>> = {
  tool: 'Tool',
  route: 'Route',
  api: 'Api',
  mcp_server: 'McpServer',
};

/** Parses Cedar's `Type::"id"` text; null when it is not one. */
export function parseResourceText(text: string): { type: string; id: string } | null {
  const match = /^([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)::"((?:[^"\\]|\\.)*)"$/.exec(text);
  if (!match) return null;
  return { type: match[1] as string, id: (match[2] as string).replace(/\\(.)/g, '$1') };
}

/** A gateway call (`gateway.call`): the Cedar action and resource, the token, bytes relayed to the agent. */
function gatewayParts(e: AuditEventRecord): Parts {
  const d = e.details;
  const text = str(d.resource);
  const parsed = text === null ? null : parseResourceText(text);
  const type = parsed?.type ?? (e.targetType ? (TARGET_TYPES[e.targetType] ?? null) : null);
  const id = parsed?.id ?? e.targetId;
  return {
    kind: 'call',
    action: str(d.action) ?? 'call',
    type,
    id,
    bytes: bytesOf(d),
    tags: tagsOf(d.tags),
  };
}

/**
 * The activity an audit event records, or null when it records none (admin
 * changes, decisions taken for token requests or policy tests, refusals of an
 * unknown client). Pure: the same event always gives the same activity.
 */
export function toActivity(e: AuditEventRecord): ActivityEvent | null {
  const agentId = agentOf(e);
  if (agentId === null) return null;
  const d = e.details;
  switch (e.action) {
    case 'token.issue':
    case 'token.refuse':
      return build(e, agentId, { kind: 'token', action: 'token:issue', type: null, id: null });
    case 'token.exchange':
      return build(e, agentId, { kind: 'token', action: 'token:exchange', type: null, id: null });
    case 'policy.decision': {
      // decisions for token requests are covered by token.issue/refuse; policy tests are not activity
      if (d.source === 'token' || d.source === 'test') return null;
      const request = obj(d.request);
      const resource = obj(request?.resource);
      const context = obj(request?.context);
      const kind: ActivityKind = d.source === 'gateway' ? 'decision' : 'call';
      return build(e, agentId, {
        kind,
        action: str(request?.action) ?? 'decide',
        type: str(resource?.type),
        id: str(resource?.id),
        sourceAddress: d.sourceAddress ?? context?.sourceAddress ?? context?.source_ip,
      });
    }
    case ACTIVITY_REPORT: {
      const resource = obj(d.resource);
      const at = typeof d.occurredAt === 'number' ? d.occurredAt : undefined;
      return build(e, agentId, {
        kind: d.kind === 'token' || d.kind === 'decision' ? d.kind : 'call',
        action: str(d.activity) ?? 'call',
        type: str(resource?.type),
        id: str(resource?.id),
        ...(at !== undefined ? { at } : {}),
        bytes: bytesOf(d),
        tags: tagsOf(d.tags),
      });
    }
    default:
      // `gateway.authorize` precedes an allowed call in durable mode: the call's own record counts
      return e.action === GATEWAY_CALL ? build(e, agentId, gatewayParts(e)) : null;
  }
}
