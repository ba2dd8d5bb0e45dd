import type { Statement } from './batch.js';
import type { AuditEventInput, IssuedTokenRecord } from './records.js';

/**
 * Writes as data, for group commit (`BatchUnit`s). The repositories run the
 * same SQL, so the two paths cannot drift.
 */

export const SQL = {
  claimJti:
    'INSERT INTO used_jtis (scope, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (scope, jti) DO NOTHING',
  insertIssuedToken: `INSERT INTO issued_tokens (jti, agent_id, credential, issued_at, expires_at, revoked_at)
    VALUES ($1, $2, $3, $4, $5, $6)`,
  appendAuditEvent: `INSERT INTO audit_events (id, at, request_id, actor_type, actor_id, action, target_type, target_id, outcome, reason, details)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq`,
} as const;

/** Records a single-use identifier; the unit fails with `code` if it was already used. */
export function claimJtiStatement(scope: string, jti: string, expiresAt: number, code: string): Statement {
  return { sql: SQL.claimJti, params: [scope, jti, expiresAt], expect: { changes: 1, code } };
}

export function issuedTokenStatement(t: IssuedTokenRecord): Statement {
  return {
    sql: SQL.insertIssuedToken,
    params: [t.jti, t.agentId, t.credential, t.issuedAt, t.expiresAt, t.revokedAt],
  };
}

export function auditEventStatement(e: AuditEventInput): Statement {
  return {
    sql: SQL.appendAuditEvent,
    params: [
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
    ],
  };
}
