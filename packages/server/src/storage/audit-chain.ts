import * as crypto from 'node:crypto';
import * as canonicalizeModule from 'canonicalize';
import type { AuditEventInput } from './records.js';

// canonicalize is CommonJS: Node's ESM default is its module.exports, the function itself.
const canonicalize = canonicalizeModule.default as unknown as (input: unknown) => string | undefined;

/** The hash a chain starts from: 32 zero bytes, hex. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * An event's canonical form split around its sequence number, which is known
 * only when the event is appended: `before + seq + after`. The parts can be
 * computed ahead (on the caller's thread) so that appending, done while the
 * chain head is held, only hashes.
 */
export interface CanonicalParts {
  readonly before: string;
  readonly after: string;
}

/** The RFC 8785 (JSON canonicalization) text of a JSON value. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('the value cannot be canonicalized');
  return text;
}

/**
 * The parts of the RFC 8785 form of `{ seq, ...event }`. RFC 8785 orders members
 * by their UTF-16 code units, and `seq` falls between `requestId` and `targetId`,
 * so the members before it and after it canonicalize on their own.
 */
export function canonicalParts(e: AuditEventInput): CanonicalParts {
  const before = canonicalJson({
    action: e.action,
    actorId: e.actorId,
    actorType: e.actorType,
    at: e.at,
    details: e.details,
    id: e.id,
    outcome: e.outcome,
    reason: e.reason,
    requestId: e.requestId,
  });
  const after = canonicalJson({ targetId: e.targetId, targetType: e.targetType });
  return { before: `${before.slice(0, -1)},"seq":`, after: `,${after.slice(1)}` };
}

/**
 * The canonical parts of an event as it is stored: its details as their JSON
 * text reads back, which is what a verifier recomputes the hash from. Every
 * appending path hashes this form (the SQLite writer thread computes it from
 * the stored text itself), so no value JSON writes differently from how
 * RFC 8785 would (a hole, a function, a non-finite number) can make a stored
 * event fail verification.
 */
export function storedCanonicalParts(e: AuditEventInput): CanonicalParts {
  return canonicalParts({ ...e, details: JSON.parse(JSON.stringify(e.details)) });
}

/** The fields an event's hash covers, in their canonical (RFC 8785) form. */
export function canonicalEvent(seq: number, e: AuditEventInput, parts = canonicalParts(e)): string {
  if (!Number.isSafeInteger(seq)) throw new TypeError('audit sequence numbers are safe integers');
  return `${parts.before}${seq}${parts.after}`;
}

/**
 * SHA-256 (hex) over the previous event's hash and this event's canonical form:
 * `hex(prev) || "\n" || canonical(event)`. Changing, removing, reordering or
 * inserting any event changes every hash after it.
 */
export function chainHash(prevHash: string, seq: number, e: AuditEventInput, parts?: CanonicalParts): string {
  return sha256Hex(`${prevHash}\n${canonicalEvent(seq, e, parts)}`);
}

// The one-shot `crypto.hash` (Node ≥ 20.12) makes no Hash object per event on the appending path.
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');

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
export function link(head: ChainHead, e: AuditEventInput, parts?: CanonicalParts): ChainedEvent {
  return linkParts(head, parts ?? storedCanonicalParts(e));
}

/**
 * Links the event whose canonical parts are `parts` after `head`: the same
 * hash as {@link link}, for a writer that received only the parts.
 */
export function linkParts(head: ChainHead, parts: CanonicalParts): ChainedEvent {
  const seq = head.seq + 1;
  if (!Number.isSafeInteger(seq)) throw new TypeError('audit sequence numbers are safe integers');
  return { seq, prevHash: head.hash, hash: sha256Hex(`${head.hash}\n${parts.before}${seq}${parts.after}`) };
}
