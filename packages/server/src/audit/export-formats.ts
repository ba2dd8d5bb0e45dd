import type { AuditEventView } from './event-view.js';

/** Export formats: JSON lines (the API view, verifiable offline), CSV, and OCSF for SIEMs. */
export type ExportFormat = 'jsonl' | 'csv' | 'ocsf';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['jsonl', 'csv', 'ocsf'];

/** One JSON line: the event exactly as the API shows it (so `custos audit verify --events` can check it). */
export function toJsonLine(e: AuditEventView): string {
  return JSON.stringify(e);
}

export const CSV_COLUMNS = [
  'seq',
  'id',
  'at',
  'request_id',
  'actor_type',
  'actor_id',
  'action',
  'target_type',
  'target_id',
  'outcome',
  'reason',
  'details',
  'prev_hash',
  'hash',
] as const;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
 * Text starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`, so a
 * spreadsheet opening the export never evaluates event text as a formula.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The CSV header line (without its line break). */
export const csvHeader = (): string => CSV_COLUMNS.join(',');

/** One CSV line (without its line break): the columns of {@link CSV_COLUMNS}, `details` as JSON. */
export function toCsvRow(e: AuditEventView): string {
  return [
    e.seq,
    e.id,
    e.at,
    e.requestId,
    e.actor.type,
    e.actor.id,
    e.action,
    e.target?.type ?? null,
    e.target?.id ?? null,
    e.outcome,
    e.reason,
    JSON.stringify(e.details),
    e.prevHash,
    e.hash,
  ]
    .map(csvField)
    .join(',');
}

// ---- OCSF 1.3 (https://schema.ocsf.io): Authorize Session (3003) and API Activity (6003)

export const OCSF_VERSION = '1.3.0';

const AUTHORIZE_SESSION = {
  uid: 3003,
  name: 'Authorize Session',
  category: 3,
  categoryName: 'Identity & Access Management',
};
const API_ACTIVITY = { uid: 6003, name: 'API Activity', category: 6, categoryName: 'Application Activity' };

/** Events that grant or refuse access: token issuance and refusal, exchanges, policy decisions. */
export function isAuthorizationEvent(action: string): boolean {
  return /^(token\.(issue|refuse|exchange)|policy\.decision)$/.test(action);
}

/** API Activity's activity (1 Create, 2 Read, 3 Update, 4 Delete, 99 Other) from the action's verb. */
export function apiActivity(action: string): { id: number; name: string } {
  const verb = action.slice(action.lastIndexOf('.') + 1);
  if (/^(create|add|issue|apply|upsert|set|register)$/.test(verb)) return { id: 1, name: 'Create' };
  if (/^(read|list|export|get)$/.test(verb)) return { id: 2, name: 'Read' };
  if (/^(update|rotate|suspend|resume|promote|rewrap|reseal|transfer)$/.test(verb))
    return { id: 3, name: 'Update' };
  if (/^(delete|remove|revoke|decommission|deactivate|prune|discard)$/.test(verb))
    return { id: 4, name: 'Delete' };
  return { id: 99, name: 'Other' };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** OCSF `user` for an actor: admins (2), people's tokens (1), agents (99 "Agent"), Custos itself (3). */
function ocsfActorUser(e: AuditEventView): Record<string, unknown> {
  const role = str(e.details.actorRole);
  switch (e.actor.type) {
    case 'admin_token':
      return {
        uid: str(e.details.actorUserId) ?? e.actor.id,
        credential_uid: e.actor.id,
        type: role === 'admin' ? 'Admin' : 'User',
        type_id: role === 'admin' ? 2 : 1,
      };
    case 'user': // a person signed in to the console with a password
      return {
        uid: e.actor.id,
        type: role === 'admin' ? 'Admin' : 'User',
        type_id: role === 'admin' ? 2 : 1,
      };
    case 'agent':
      return { uid: e.actor.id, type: 'Agent', type_id: 99 };
    case 'system':
      return { uid: e.actor.id, name: 'Custos', type: 'System', type_id: 3 };
    default:
      return { uid: e.actor.id, type: 'Unknown', type_id: 0 };
  }
}

/**
 * The event as an OCSF 1.3 object: token issuance/refusal, token exchange and
 * policy decisions become Authorize Session (3003, "Assign Privileges": the
 * privileges are the scopes granted, or the action decided); every other event
 * (admin changes, key rotation, gateway calls) becomes API Activity (6003). The
 * Custos event (sequence number, hashes, details) is kept under `unmapped`.
 */
export function toOcsf(e: AuditEventView, productVersion: string): Record<string, unknown> {
  const authorization = isAuthorizationEvent(e.action);
  const cls = authorization ? AUTHORIZE_SESSION : API_ACTIVITY;
  const activity = authorization ? { id: 1, name: 'Assign Privileges' } : apiActivity(e.action);
  const failed = e.outcome !== 'success';
  const source = str(e.details.sourceAddress);
  const base: Record<string, unknown> = {
    category_uid: cls.category,
    category_name: cls.categoryName,
    class_uid: cls.uid,
    class_name: cls.name,
    activity_id: activity.id,
    activity_name: activity.name,
    type_uid: cls.uid * 100 + activity.id,
    type_name: `${cls.name}: ${activity.name}`,
    time: Date.parse(e.at),
    severity_id: failed ? 3 : 1,
    severity: failed ? 'Medium' : 'Informational',
    status_id: failed ? 2 : 1,
    status: failed ? 'Failure' : 'Success',
    ...(e.reason ? { status_detail: e.reason } : {}),
    message: `${e.action}${e.target ? ` ${e.target.type} ${e.target.id}` : ''}: ${e.outcome}`,
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'Custos', vendor_name: 'Custos', version: productVersion },
      uid: e.id,
      event_code: e.action,
      log_name: 'audit',
      sequence: e.seq,
      ...(e.requestId ? { correlation_uid: e.requestId } : {}),
    },
    actor: { user: ocsfActorUser(e) },
    src_endpoint: source ? { ip: source } : {},
    unmapped: {
      custos: {
        seq: e.seq,
        outcome: e.outcome,
        actor: e.actor,
        target: e.target,
        details: e.details,
        prev_hash: e.prevHash,
        hash: e.hash,
      },
    },
  };
  if (authorization) {
    const agent = e.target?.type === 'agent' ? e.target.id : e.actor.id;
    const request = e.details.request as Record<string, unknown> | undefined;
    const decided = str((request?.action as Record<string, unknown> | undefined)?.id);
    return {
      ...base,
      user: { uid: agent, type: 'Agent', type_id: 99 },
      privileges: e.action === 'policy.decision' ? (decided ? [decided] : []) : strings(e.details.scopes),
      ...(str(e.details.tokenId)
        ? {
            session: {
              uid: str(e.details.tokenId),
              ...(str(e.details.expiresAt)
                ? { expiration_time: Date.parse(String(e.details.expiresAt)) }
                : {}),
              ...(str(e.details.credential) ? { credential_uid: str(e.details.credential) } : {}),
            },
          }
        : {}),
      ...(strings(e.details.audience).length > 0
        ? { dst_endpoint: { svc_name: strings(e.details.audience).join(' ') } }
        : {}),
    };
  }
  return {
    ...base,
    api: {
      operation: e.action,
      service: { name: 'custos' },
      ...(e.requestId ? { request: { uid: e.requestId } } : {}),
    },
    resources: e.target ? [{ uid: e.target.id, type: e.target.type }] : [],
  };
}
