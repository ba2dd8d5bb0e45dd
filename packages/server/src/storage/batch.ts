import type { AuditEventInput } from './records.js';
import type { SqlValue } from './sql-driver.js';

/** One write of a batch unit: plain SQL, or an audit event appended to the hash chain. */
export type Statement = SqlStatement | AuditAppend;

/**
 * An audit event; the writer gives it the next sequence number and links it
 * into the chain, hashing it as stored (`storedCanonicalParts`).
 */
export interface AuditAppend {
  readonly audit: AuditEventInput;
}

export interface SqlStatement {
  readonly sql: string;
  readonly params: readonly SqlValue[];
  /**
   * When set, the unit fails with `code` unless exactly `changes` rows changed
   * (e.g. an `INSERT … ON CONFLICT DO NOTHING` that must insert: a replay).
   * INVARIANT: on a unit's first statement, an expectation may fail only when
   * that statement changed nothing, since such a unit runs without a savepoint.
   */
  readonly expect?: { readonly changes: number; readonly code: string };
}

/** Writes that commit together or not at all, inside a batch that commits once. */
export interface BatchUnit {
  readonly statements: readonly Statement[];
}

export type UnitOutcome =
  | { readonly ok: true; readonly rows: readonly (readonly Record<string, unknown>[])[] }
  | { readonly ok: false; readonly code: string; readonly statement: number };

/**
 * Executes batches of units in one transaction each, every unit in its own
 * savepoint: a unit whose expectation fails is rolled back alone. Resolves after
 * the commit is durable; rejects (for the whole batch) if the commit fails.
 *
 * The SQLite implementation runs on a worker thread, so the durable commit
 * (an fsync) never blocks the event loop and batches grow while it runs.
 */
export interface BatchWriter {
  write(units: readonly BatchUnit[]): Promise<readonly UnitOutcome[]>;
  close(): Promise<void>;
}
