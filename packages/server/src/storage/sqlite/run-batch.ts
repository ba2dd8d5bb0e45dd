import type Database from 'better-sqlite3';
import { type ChainHead, linkParts } from '../audit-chain.js';
import type { SqlValue } from '../sql-driver.js';
import { SQL, selectAuditHead } from '../statements.js';
import type { WireOutcome, WireUnit } from './batch-wire.js';

type Params = Record<number, SqlValue> | SqlValue[];

function named(params: readonly SqlValue[]): Record<number, SqlValue> {
  const out: Record<number, SqlValue> = {};
  params.forEach((value, i) => {
    out[i + 1] = value;
  });
  return out;
}

// The same statement with anonymous parameters, bound from an array: no object per event.
const APPEND_AUDIT_EVENT = SQL.appendAuditEvent.replace(/\$\d+/g, '?');

/** Prepared statements per connection, kept across batches. */
const statementCache = new WeakMap<Database.Database, Map<string, Database.Statement<[Params], unknown>>>();

/**
 * Runs a batch on a SQLite connection in one `BEGIN IMMEDIATE … COMMIT`, one
 * savepoint per unit that needs one. Audit events are numbered and hashed here,
 * from the chain head read in the same transaction (the single sequencer).
 * Synchronous: call it where blocking is fine (the worker).
 */
export function runBatch(db: Database.Database, units: readonly WireUnit[]): WireOutcome[] {
  let cache = statementCache.get(db);
  if (!cache) {
    cache = new Map();
    statementCache.set(db, cache);
  }
  const prepare = (sql: string) => {
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = db.prepare<[Params], unknown>(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  };
  const outcomes: WireOutcome[] = [];
  const noParams = {};
  db.exec('BEGIN IMMEDIATE');
  try {
    const chains = units.some((u) => u.statements.some((st) => 'audit' in st));
    const headRow = chains
      ? (prepare(selectAuditHead('')).get(noParams) as { seq: number; hash: string } | undefined)
      : null;
    if (chains && !headRow) throw new Error('INVARIANT: the audit head row is missing');
    let head: ChainHead | null = headRow ? { seq: Number(headRow.seq), hash: headRow.hash } : null;
    const appendEvent = chains ? prepare(APPEND_AUDIT_EVENT) : null;
    for (const unit of units) {
      const headBefore = head;
      // A savepoint is needed only when a later statement's expectation could
      // fail after earlier writes of the unit; prepared, it costs microseconds.
      const guarded = unit.statements.some((st, i) => i > 0 && 'expect' in st && st.expect !== undefined);
      if (guarded) prepare('SAVEPOINT unit').run(noParams);
      let failed: WireOutcome | null = null;
      let firstSeq = 0;
      let rows: Record<string, unknown>[][] | null = null;
      for (const [i, statement] of unit.statements.entries()) {
        if ('audit' in statement) {
          const chained = linkParts(head as ChainHead, statement.audit.canonical);
          const row = statement.audit.row;
          // columns: seq, the row up to details, prev_hash, hash, user_id
          appendEvent?.run([
            chained.seq,
            ...row.slice(0, 11),
            chained.prevHash,
            chained.hash,
            row[11] ?? null,
          ]);
          head = { seq: chained.seq, hash: chained.hash };
          if (firstSeq === 0) firstSeq = chained.seq;
          rows?.push([{ seq: chained.seq }]);
          continue;
        }
        const stmt = prepare(statement.sql);
        let changes: number;
        if (stmt.reader) {
          const result = stmt.all(named(statement.params)) as Record<string, unknown>[];
          // rows of its own: this unit's outcome travels back in full
          let seq = firstSeq;
          rows ??= unit.statements.slice(0, i).map((st) => ('audit' in st ? [{ seq: seq++ }] : []));
          rows.push(result);
          changes = result.length;
        } else {
          rows?.push([]);
          changes = stmt.run(named(statement.params)).changes;
        }
        if (statement.expect && changes !== statement.expect.changes) {
          failed = { ok: false, code: statement.expect.code, statement: i };
          break;
        }
      }
      if (guarded) {
        if (failed) prepare('ROLLBACK TO unit').run(noParams);
        prepare('RELEASE unit').run(noParams);
      }
      // a unit undone takes its events back: the head returns to where the unit began
      if (failed) head = headBefore;
      outcomes.push(failed ?? (rows ? { ok: true, rows } : firstSeq));
    }
    if (head && headRow && head.seq !== Number(headRow.seq))
      prepare(SQL.updateAuditHead).run(named([head.seq, head.hash]));
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
  return outcomes;
}
