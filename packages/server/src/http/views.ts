import type { Static } from '@sinclair/typebox';
import { toAuditView } from '../audit/index.js';
import { CustosError } from '../core/index.js';
import type {
  AdminTokenRecord,
  AgentRecord,
  AgentStatusChange,
  AuditEventRecord,
  TeamRecord,
  UserRecord,
} from '../storage/index.js';
import type * as S from './schemas.js';

/** Records → wire shapes: times become RFC 3339 strings, internals are dropped. */

export const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

/** Parses an RFC 3339 timestamp from a request (its shape is already schema-checked). */
export function parseTimestamp(value: string, field: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new CustosError('validation_failed', `\`${field}\` is not a valid date-time: \`${value}\``, {
      fields: [{ pointer: `/${field}`, detail: 'not a valid date-time' }],
    });
  }
  return ms;
}

export const userView = (u: UserRecord): Static<typeof S.User> => ({
  id: u.id,
  email: u.email,
  name: u.name,
  status: u.status,
  managerId: u.managerId,
  createdAt: iso(u.createdAt),
  updatedAt: iso(u.updatedAt),
});

export const teamView = (t: TeamRecord): Static<typeof S.Team> => ({
  name: t.name,
  description: t.description,
  createdAt: iso(t.createdAt),
  updatedAt: iso(t.updatedAt),
});

export const agentView = (a: AgentRecord): Static<typeof S.Agent> => ({
  id: a.id,
  name: a.name,
  owner: { id: a.ownerId, email: a.ownerEmail },
  team: a.team,
  purpose: a.purpose,
  environment: a.environment,
  tags: { ...a.tags },
  riskLevel: a.riskLevel,
  status: a.status,
  statusReason: a.statusReason,
  expiresAt: iso(a.expiresAt),
  allowedScopes: [...a.allowedScopes],
  allowedAudiences: [...a.allowedAudiences],
  requireDpop: a.requireDpop,
  createdAt: iso(a.createdAt),
  updatedAt: iso(a.updatedAt),
});

export const statusChangeView = (c: AgentStatusChange): Static<typeof S.StatusChange> => ({
  at: iso(c.at),
  from: c.fromStatus,
  to: c.toStatus,
  reason: c.reason,
  actor: c.actor,
});

export const adminTokenView = (t: AdminTokenRecord): Static<typeof S.AdminToken> => ({
  id: t.id,
  name: t.name,
  role: t.role,
  userId: t.userId,
  createdBy: t.createdBy,
  createdAt: iso(t.createdAt),
  expiresAt: iso(t.expiresAt),
  revokedAt: isoOrNull(t.revokedAt),
  lastUsedAt: isoOrNull(t.lastUsedAt),
});

/** The API shape of an audit event: the same view exports and verification use. */
export const auditEventView = (e: AuditEventRecord): Static<typeof S.AuditEvent> => toAuditView(e);
