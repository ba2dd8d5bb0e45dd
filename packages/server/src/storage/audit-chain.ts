import { createHash } from 'node:crypto';
import * as canonicalizeModule from 'canonicalize';
import type { AuditEventInput } from './records.js';

// canonicalize is CommonJS: Node's ESM default is its module.exports, the function itself.
const canonicalize = canonicalizeModule.default as unknown as (input: unknown) => string | undefined;

/** The hash a chain starts from: 32 zero bytes, hex. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields an event's hash covers, in their canonical (RFC 8785) form. */
export function canonicalEvent(seq: number, e: AuditEventInput): string {
  const text = canonicalize({
    seq,
    id: e.id,
    at: e.at,
    requestId: e.requestId,
    actorType: e.actorType,
    actorId: e.actorId,
    action: e.action,
    targetType: e.targetType,
    targetId: e.targetId,
    outcome: e.outcome,
    reason: e.reason,
    details: e.details,
  });
  if (text === undefined) throw new TypeError('audit event cannot be canonicalized');
  return text;
}

/**
 * SHA-256 (hex) over the previous event's hash and this event's canonical form:
 * `hex(prev) || "\n" || canonical(event)`. Changing, removing, reordering or
 * inserting any event changes every hash after it.
 */
export function chainHash(prevHash: string, seq: number, e: AuditEventInput): string {
  return createHash('sha256')
    .update(`${prevHash}\n${canonicalEvent(seq, e)}`)
    .digest('hex');
}

/** The chain head: the last sequence number and its hash. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

/** A chained event, as stored. */
export interface ChainedEvent {
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
}

/** Links `e` after `head`: its sequence number, predecessor hash and hash. */
export function link(head: ChainHead, e: AuditEventInput): ChainedEvent {
  const seq = head.seq + 1;
  return { seq, prevHash: head.hash, hash: chainHash(head.hash, seq, e) };
}
