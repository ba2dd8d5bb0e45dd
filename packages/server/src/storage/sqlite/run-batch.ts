import type Database from 'better-sqlite3';
import type { BatchUnit, UnitOutcome } from '../batch.js';
import type { SqlValue } from '../sql-driver.js';

function named(params: readonly SqlValue[]): Record<number, SqlValue> {
  const out: Record<number, SqlValue> = {};
  params.forEach((value, i) => {
    out[i + 1] = value;
  });
  return out;
}

/**
 * Runs a batch on a SQLite connection in one `BEGIN IMMEDIATE … COMMIT`, one
 * savepoint per unit. Synchronous: call it where blocking is fine (the worker).
 */
export function runBatch(db: Database.Database, units: readonly BatchUnit[]): UnitOutcome[] {
  const cache = new Map<string, Database.Statement<[Record<number, SqlValue>], unknown>>();
  const prepare = (sql: string) => {
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = db.prepare<[Record<number, SqlValue>], unknown>(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  };
  const outcomes: UnitOutcome[] = [];
  db.exec('BEGIN IMMEDIATE');
  try {
    for (const unit of units) {
      db.exec('SAVEPOINT unit');
      let failed: UnitOutcome | null = null;
      const rows: Record<string, unknown>[][] = [];
      for (const [i, statement] of unit.statements.entries()) {
        const stmt = prepare(statement.sql);
        let changes: number;
        if (stmt.reader) {
          const result = stmt.all(named(statement.params)) as Record<string, unknown>[];
          rows.push(result);
          changes = result.length;
        } else {
          rows.push([]);
          changes = stmt.run(named(statement.params)).changes;
        }
        if (statement.expect && changes !== statement.expect.changes) {
          failed = { ok: false, code: statement.expect.code, statement: i };
          break;
        }
      }
      if (failed) db.exec('ROLLBACK TO unit');
      db.exec('RELEASE unit');
      outcomes.push(failed ?? { ok: true, rows });
    }
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
  return outcomes;
}
