import { type CanonicalParts, canonicalParts } from '../audit-chain.js';
import type { BatchUnit, SqlStatement, UnitOutcome } from '../batch.js';
import type { AuditEventInput } from '../records.js';
import type { SqlValue } from '../sql-driver.js';
import { auditUserOf } from '../statements.js';

/**
 * How a batch travels to the SQLite writer's thread and back. Structured clone
 * of many small nested objects costs more than the writes themselves (≈10 µs
 * per event each way), so an audit event crosses as slices of one string plus
 * a few numbers, already in the form the writer stores: its row (details as
 * JSON text, the `user_id` column). The writer computes its canonical parts
 * from that row (the details as stored, exactly what a verifier later reads
 * back), which keeps the RFC 8785 serialization off the event loop, then
 * numbers, hashes and inserts. Plain SQL statements cross as they are.
 */

/** An audit event as the writer receives it: everything but its place in the chain. */
export interface WireAudit {
  /** id, at, request_id, actor_type, actor_id, action, target_type, target_id, outcome, reason, details, user_id */
  readonly row: readonly SqlValue[];
  readonly canonical: CanonicalParts;
}

export type WireStatement = { readonly audit: WireAudit } | SqlStatement;

export interface WireUnit {
  readonly statements: readonly WireStatement[];
}

/** A batch as posted to the worker: one string, numbers, and the plain SQL statements. */
export interface WireBatch {
  readonly text: string;
  readonly nums: readonly number[];
  readonly sql: readonly SqlStatement[];
}

/**
 * A unit's outcome on the way back: a number when the unit committed and
 * returned no rows of its own (the sequence number of its first audit event,
 * 0 if it has none: the rest follow from the unit), else the outcome itself.
 */
export type WireOutcome = number | UnitOutcome;

const AUDIT = 0;
const SQL = 1;
/** String fields of an audit event on the wire, in this order (`at` travels as a number). */
const STRINGS = 11;

/** Encodes `units` for the writer's thread (on the caller's thread, while the writer commits). */
export function encodeBatch(units: readonly BatchUnit[]): WireBatch {
  const parts: string[] = [];
  const nums: number[] = [];
  const sql: SqlStatement[] = [];
  const str = (value: string | null) => {
    if (value === null) nums.push(-1);
    else {
      nums.push(value.length);
      parts.push(value);
    }
  };
  nums.push(units.length);
  for (const unit of units) {
    nums.push(unit.statements.length);
    for (const statement of unit.statements) {
      if (!('audit' in statement)) {
        nums.push(SQL);
        sql.push(statement);
        continue;
      }
      const e = statement.audit;
      nums.push(AUDIT, e.at);
      str(e.id);
      str(e.requestId);
      str(e.actorType);
      str(e.actorId);
      str(e.action);
      str(e.targetType);
      str(e.targetId);
      str(e.outcome);
      str(e.reason);
      str(JSON.stringify(e.details));
      str(auditUserOf(e.details));
    }
  }
  return { text: parts.join(''), nums, sql };
}

/** Decodes a {@link WireBatch} on the writer's thread. */
export function decodeBatch(batch: WireBatch): WireUnit[] {
  const { text, nums } = batch;
  let n = 0;
  let at = 0;
  let sqlIndex = 0;
  const num = () => nums[n++] as number;
  const units: WireUnit[] = [];
  const unitCount = num();
  for (let u = 0; u < unitCount; u++) {
    const count = num();
    const statements: WireStatement[] = [];
    for (let s = 0; s < count; s++) {
      if (num() === SQL) {
        statements.push(batch.sql[sqlIndex++] as SqlStatement);
        continue;
      }
      const eventAt = num();
      const fields: (string | null)[] = [];
      for (let f = 0; f < STRINGS; f++) {
        const length = num();
        if (length < 0) fields.push(null);
        else {
          fields.push(text.slice(at, at + length));
          at += length;
        }
      }
      const [
        id,
        requestId,
        actorType,
        actorId,
        action,
        targetType,
        targetId,
        outcome,
        reason,
        details,
        userId,
      ] = fields;
      statements.push({
        audit: {
          row: [
            id as string,
            eventAt,
            requestId as string | null,
            actorType as string,
            actorId as string,
            action as string,
            targetType as string | null,
            targetId as string | null,
            outcome as string,
            reason as string | null,
            details as string,
            userId as string | null,
          ],
          canonical: canonicalParts({
            id: id as string,
            at: eventAt,
            requestId: requestId as string | null,
            actorType: actorType as string,
            actorId: actorId as string,
            action: action as string,
            targetType: targetType as string | null,
            targetId: targetId as string | null,
            outcome: outcome as string,
            reason: reason as string | null,
            details: JSON.parse(details as string),
          } as AuditEventInput),
        },
      });
    }
    units.push({ statements });
  }
  return units;
}

/** The outcomes of `units` from the writer's {@link WireOutcome}s. */
export function decodeOutcomes(units: readonly BatchUnit[], wire: readonly WireOutcome[]): UnitOutcome[] {
  return wire.map((outcome, i) => {
    if (typeof outcome !== 'number') return outcome;
    let seq = outcome;
    const rows = (units[i]?.statements ?? []).map((st) => ('audit' in st ? [{ seq: seq++ }] : []));
    return { ok: true, rows };
  });
}
