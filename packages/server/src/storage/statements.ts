import type { ChainedEvent } from './audit-chain.js';
import type { SqlStatement, Statement } from './batch.js';
import type { AuditEventInput, IssuedTokenRecord } from './records.js';
import type { SqlValue } from './sql-driver.js';

/**
 * Writes as data, for group commit (`BatchUnit`s). The repositories run the
 * same SQL, so the two paths cannot drift.
 */

export const SQL = {
  claimJti:
    'INSERT INTO used_jtis (scope, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (scope, jti) DO NOTHING',
  insertIssuedToken: `INSERT INTO issued_tokens (jti, agent_id, credential, issued_at, expires_at, revoked_at, subject, consent_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  appendAuditEvent: `INSERT INTO audit_events (seq, id, at, request_id, actor_type, actor_id, action, target_type, target_id, outcome, reason, details, prev_hash, hash, user_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
  updateAuditHead: 'UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1',
} as const;

/** Records a single-use identifier; the unit fails with `code` if it was already used. */
export function claimJtiStatement(scope: string, jti: string, expiresAt: number, code: string): SqlStatement {
  return { sql: SQL.claimJti, params: [scope, jti, expiresAt], expect: { changes: 1, code } };
}

export function issuedTokenStatement(t: IssuedTokenRecord): SqlStatement {
  return {
    sql: SQL.insertIssuedToken,
    params: [
      t.jti,
      t.agentId,
      t.credential,
      t.issuedAt,
      t.expiresAt,
      t.revokedAt,
      t.subject ?? null,
      t.consentId ?? null,
    ],
  };
}

export function auditEventStatement(e: AuditEventInput): Statement {
  // its canonical form is computed where it is appended (the SQLite writer's thread, off the event loop)
  return { audit: storableEvent(e) };
}

/**
 * The event as both drivers store it: a lone surrogate or a NUL in a text
 * column (a refusal's reason can quote a `kid` or client id an unauthenticated
 * caller chose) is written as U+FFFD (see `storableText`), so the event is
 * hashed that way too; hashed as sent, the stored event would no longer match
 * its hash and verification would report it modified. Details travel as JSON
 * text, which keeps such text exactly.
 */
export function storableEvent(e: AuditEventInput): AuditEventInput {
  const texts = [e.id, e.requestId, e.actorType, e.actorId, e.action, e.targetType, e.targetId, e.reason];
  if (texts.every((t) => t === null || (t.isWellFormed() && !t.includes('\u0000')))) return e;
  return {
    ...e,
    id: storableText(e.id),
    requestId: e.requestId === null ? null : storableText(e.requestId),
    actorType: storableText(e.actorType),
    actorId: storableText(e.actorId),
    action: storableText(e.action),
    targetType: e.targetType === null ? null : storableText(e.targetType),
    targetId: e.targetId === null ? null : storableText(e.targetId),
    reason: e.reason === null ? null : storableText(e.reason),
  };
}

/**
 * Text as a column can hold it, the same on every dialect: a lone surrogate
 * becomes U+FFFD (as UTF-8 encoding would make it), and so does NUL, which
 * PostgreSQL refuses in text (one refused event would fail every other write
 * committed with it; a refusal's reason can quote what a caller sent).
 */
function storableText(text: string): string {
  const formed = text.toWellFormed();
  return formed.includes('\u0000') ? formed.replaceAll('\u0000', '\uFFFD') : formed;
}

/** The chain head, locked until the transaction ends where the dialect needs it. */
export const selectAuditHead = (forUpdate: string) =>
  `SELECT seq, hash FROM audit_head WHERE id = 1${forUpdate}`;

/** The insert of one chained event. */
export function chainedEventParams(e: AuditEventInput, chained: ChainedEvent): SqlValue[] {
  return [
    chained.seq,
    e.id,
    e.at,
    e.requestId,
    e.actorType,
    e.actorId,
    e.action,
    e.targetType,
    e.targetId,
    e.outcome,
    e.reason,
    JSON.stringify(e.details),
    chained.prevHash,
    chained.hash,
    auditUserOf(e.details),
  ];
}

/**
 * The human on the actor's side of an event, for the `user_id` column: the user
 * an agent acted for (`details.onBehalfOf`), else the user behind the actor's
 * token (`details.actorUserId`).
 */
export function auditUserOf(details: Readonly<Record<string, unknown>>): string | null {
  if (typeof details.onBehalfOf === 'string') return storableText(details.onBehalfOf);
  return typeof details.actorUserId === 'string' ? storableText(details.actorUserId) : null;
}
