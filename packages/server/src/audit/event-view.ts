import type { AuditEventRecord } from '../storage/index.js';

/**
 * An audit event as the API, exports, archives and sinks show it: times as
 * RFC 3339, actor and target as objects. It converts back to the stored form
 * exactly (the hash covers the stored form), so any of these copies can be
 * verified offline.
 */
export interface AuditEventView {
  readonly seq: number;
  readonly id: string;
  readonly at: string;
  readonly requestId: string | null;
  readonly actor: { readonly type: string; readonly id: string };
  readonly action: string;
  readonly target: { readonly type: string; readonly id: string } | null;
  readonly outcome: AuditEventRecord['outcome'];
  readonly reason: string | null;
  readonly details: Readonly<Record<string, unknown>>;
  readonly prevHash: string | null;
  readonly hash: string | null;
}

/** The view of a stored event (times become RFC 3339). */
export function toAuditView(e: AuditEventRecord): AuditEventView {
  return {
    seq: e.seq,
    id: e.id,
    at: new Date(e.at).toISOString(),
    requestId: e.requestId,
    actor: { type: e.actorType, id: e.actorId },
    action: e.action,
    target: e.targetType && e.targetId ? { type: e.targetType, id: e.targetId } : null,
    outcome: e.outcome,
    reason: e.reason,
    details: { ...e.details },
    prevHash: e.prevHash,
    hash: e.hash,
  };
}

/** The stored form of an event from its view. */
export function fromAuditView(v: AuditEventView): AuditEventRecord {
  return {
    seq: v.seq,
    id: v.id,
    at: Date.parse(v.at),
    requestId: v.requestId,
    actorType: v.actor.type,
    actorId: v.actor.id,
    action: v.action,
    targetType: v.target?.type ?? null,
    targetId: v.target?.id ?? null,
    outcome: v.outcome,
    reason: v.reason,
    details: v.details,
    prevHash: v.prevHash,
    hash: v.hash,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isRef = (v: unknown): v is { type: string; id: string } =>
  isObject(v) && typeof v.type === 'string' && typeof v.id === 'string';
const stringOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';
const OUTCOMES: readonly unknown[] = ['success', 'failure', 'denied'];

/** Narrows parsed JSON (an export or archive line) to a view; null when it is not one. */
export function parseAuditView(value: unknown): AuditEventView | null {
  if (!isObject(value)) return null;
  const v = value;
  const ok =
    Number.isSafeInteger(v.seq) &&
    typeof v.id === 'string' &&
    typeof v.at === 'string' &&
    !Number.isNaN(Date.parse(v.at)) &&
    stringOrNull(v.requestId) &&
    isRef(v.actor) &&
    typeof v.action === 'string' &&
    (v.target === null || isRef(v.target)) &&
    OUTCOMES.includes(v.outcome) &&
    stringOrNull(v.reason) &&
    isObject(v.details) &&
    stringOrNull(v.prevHash) &&
    stringOrNull(v.hash);
  return ok ? (v as unknown as AuditEventView) : null;
}
