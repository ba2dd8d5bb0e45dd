import { type Clock, newId } from '../core/index.js';
import {
  type AuditEventInput,
  auditEventStatement,
  type Repositories,
  type Statement,
} from '../storage/index.js';

/**
 * Who did something: an admin token (with its role and human, if any), an
 * agent (token requests, calls), a caller that could not be identified, or
 * Custos itself.
 */
export interface Actor {
  /** `user`: a person signed in to the console with a password (see `identity/console-sessions.ts`). */
  readonly type: 'admin_token' | 'user' | 'agent' | 'anonymous' | 'system';
  readonly id: string;
  /** Admin-token roles grant admin API rights; `agent` and `none` grant none. */
  readonly role: 'admin' | 'auditor' | 'owner' | 'resource_server' | 'agent' | 'none';
  /** The human behind the token, when there is one (always for `owner` tokens). */
  readonly userId: string | null;
  readonly requestId: string | null;
  /**
   * For an agent acting for a human (RFC 8693 token exchange): the user, and
   * the delegation chain of agents from the first actor to this one.
   */
  readonly onBehalfOf?: { readonly userId: string; readonly chain: readonly string[] } | undefined;
}

export const SYSTEM_ACTOR: Actor = {
  type: 'system',
  id: 'custos',
  role: 'admin',
  userId: null,
  requestId: null,
};

export interface AuditEntry {
  readonly action: string;
  readonly target: { readonly type: string; readonly id: string } | null;
  readonly outcome?: 'success' | 'failure' | 'denied';
  readonly reason?: string | null;
  /** Field-level before/after of what changed; never secrets. */
  readonly changes?: Readonly<Record<string, { from: unknown; to: unknown }>>;
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * Appends an audit event through `tx`, so the record commits or rolls back with
 * the change it describes: no record, no change.
 */
export async function recordAuditEvent(
  tx: Repositories,
  clock: Clock,
  actor: Actor,
  entry: AuditEntry,
): Promise<void> {
  await tx.audit.append(buildAuditEvent(clock, actor, entry));
}

/** The audit event for `entry`, as a group-commit statement (see `storage/batch.ts`). */
export function auditStatement(clock: Clock, actor: Actor, entry: AuditEntry): Statement {
  return auditEventStatement(buildAuditEvent(clock, actor, entry));
}

function buildAuditEvent(clock: Clock, actor: Actor, entry: AuditEntry): AuditEventInput {
  const at = clock.now();
  return {
    id: newId('evt', at),
    at,
    requestId: actor.requestId,
    actorType: actor.type,
    actorId: actor.id,
    action: entry.action,
    targetType: entry.target?.type ?? null,
    targetId: entry.target?.id ?? null,
    outcome: entry.outcome ?? 'success',
    reason: entry.reason ?? null,
    details: {
      actorRole: actor.role,
      ...(actor.userId ? { actorUserId: actor.userId } : {}),
      ...(actor.onBehalfOf
        ? { onBehalfOf: actor.onBehalfOf.userId, delegation: [...actor.onBehalfOf.chain] }
        : {}),
      ...(entry.changes ? { changes: entry.changes } : {}),
      ...entry.details,
    },
  };
}

/** The fields whose value differs between two snapshots, as `{ field: { from, to } }`. */
export function diffFields<T extends object>(
  before: T,
  after: T,
  fields: readonly (keyof T & string)[],
): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of fields) {
    const from = before[field];
    const to = after[field];
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[field] = { from, to };
  }
  return changes;
}
