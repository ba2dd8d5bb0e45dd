import Database from 'better-sqlite3';
import { localChangeFeed } from '../change-feed.js';
import type { QueryObserver, SqlDriver, SqlExecutor, SqlValue } from '../sql-driver.js';
import { UniqueViolation } from '../store.js';
import { isSqliteUnavailableCode, StoreUnavailable } from '../store-unavailable.js';
import { openSqliteBatchWriter, type SqliteBatchWriter } from './sqlite-batch-writer.js';
import { currentFault, faultPragmas, registerWriteConnections } from './write-faults.js';

type Db = Database.Database;
type Params = Record<number, SqlValue>;
type Statement = Database.Statement<[Params], unknown>;

// better-sqlite3 binds `$1`-style parameters by name, so positional values become `{ 1: v1, 2: v2 }`.
function named(params: readonly SqlValue[]): Params {
  const out: Params = {};
  params.forEach((value, i) => {
    out[i + 1] = value;
  });
  return out;
}

/**
 * SQLite through better-sqlite3, in WAL mode with `synchronous=FULL` so a commit
 * is durable when it returns.
 *
 * better-sqlite3 is synchronous while transactions here are async, so all writes
 * go through one connection behind a FIFO lock: a transaction holds it from
 * `BEGIN IMMEDIATE` to `COMMIT`, and no other write can interleave. Reads outside
 * a transaction use a second connection, which under WAL sees only committed data
 * and never waits for the lock.
 *
 * INVARIANT: code inside `transaction` only uses the executor it was given; using
 * `exec.write` from inside a transaction would wait for the lock forever, and
 * waiting for a batch write (group commit) would wait for the batch writer,
 * which stands still during the transaction (see `hold`).
 */
export function openSqliteDriver(path: string, observe?: QueryObserver): SqlDriver {
  const writer = new Database(path);
  writer.pragma('journal_mode = WAL');
  writer.pragma('synchronous = FULL');
  writer.pragma('foreign_keys = ON');
  writer.pragma('busy_timeout = 5000');
  for (const pragma of faultPragmas(currentFault(path))) writer.pragma(pragma);
  const reader = new Database(path, { readonly: true });
  reader.pragma('busy_timeout = 5000');

  const statements = new WeakMap<Db, Map<string, Statement>>();
  function prepare(db: Db, sql: string): Statement {
    let cache = statements.get(db);
    if (!cache) {
      cache = new Map();
      statements.set(db, cache);
    }
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = db.prepare<[Params], unknown>(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  }

  function timed<T>(kind: 'read' | 'write', fn: () => T): T {
    const start = process.hrtime.bigint();
    try {
      return fn();
    } catch (error) {
      throw translate(error);
    } finally {
      observe?.(kind, Number(process.hrtime.bigint() - start) / 1e9);
    }
  }

  const onWriter: SqlExecutor = {
    all: async <T>(sql: string, params: readonly SqlValue[] = []) =>
      timed('read', () => prepare(writer, sql).all(named(params)) as T[]),
    write: async <T>(sql: string, params: readonly SqlValue[] = []) =>
      timed('write', () => {
        const stmt = prepare(writer, sql);
        if (stmt.reader) {
          const rows = stmt.all(named(params)) as T[];
          return { rows, changes: rows.length };
        }
        return { rows: [] as T[], changes: stmt.run(named(params)).changes };
      }),
  };

  let batchWriter: SqliteBatchWriter | null = null;
  let tail: Promise<unknown> = Promise.resolve();
  function withWriteLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  }

  async function transaction<T>(fn: (ex: SqlExecutor) => Promise<T>): Promise<T> {
    return withWriteLock(async () => {
      const start = process.hrtime.bigint();
      // Under load this process's batch writer holds the write lock nearly all
      // the time, and BEGIN IMMEDIATE would sleep in SQLite's busy handler on
      // this thread (blocking the event loop for milliseconds) until it got it.
      // Wait for the writer to stand still instead, without blocking.
      const release = batchWriter ? await batchWriter.hold() : null;
      try {
        writer.exec('BEGIN IMMEDIATE');
      } catch (error) {
        release?.();
        throw translate(error);
      }
      try {
        const result = await fn(onWriter);
        writer.exec('COMMIT');
        return result;
      } catch (error) {
        try {
          if (writer.inTransaction) writer.exec('ROLLBACK');
        } catch {
          // SQLite has already rolled back (e.g. after SQLITE_FULL or an I/O error)
        }
        throw translate(error);
      } finally {
        release?.();
        observe?.('transaction', Number(process.hrtime.bigint() - start) / 1e9);
      }
    });
  }

  const unregister = registerWriteConnections(path, async (pragmas) => {
    await withWriteLock(async () => {
      for (const pragma of pragmas) writer.pragma(pragma);
    });
    await batchWriter?.pragma(pragmas);
  });

  const changes = localChangeFeed();

  return {
    dialect: 'sqlite',
    changes,
    notify: async () => {
      // single process: the store delivers changes locally after commit
    },
    writeBatch: (units) => {
      if (!batchWriter) {
        const opened = openSqliteBatchWriter(path, {
          onGone: () => {
            // its thread died: the next batch starts a new one; until then this connection checkpoints
            if (batchWriter !== opened) return;
            batchWriter = null;
            if (writer.open) writer.pragma('wal_autocheckpoint = 1000');
          },
        });
        batchWriter = opened;
        // the writer's thread checkpoints on a timer: none on this thread's commits
        writer.pragma('wal_autocheckpoint = 0');
      }
      return batchWriter.write(units);
    },
    forUpdate: '',
    exec: {
      all: async <T>(sql: string, params: readonly SqlValue[] = []) =>
        timed('read', () => prepare(reader, sql).all(named(params)) as T[]),
      write: <T>(sql: string, params: readonly SqlValue[] = []) =>
        transaction((ex) => ex.write<T>(sql, params)),
    },
    transaction,
    script: async (_ex, sql) => {
      writer.exec(sql);
    },
    lockForMigration: async () => {
      // BEGIN IMMEDIATE already holds SQLite's single write lock
    },
    close: async () => {
      unregister();
      await changes.close();
      await batchWriter?.close();
      await withWriteLock(async () => {
        reader.close();
        writer.close();
      });
    },
  };
}

/** A driver error as the store reports it: unique violations and "cannot write now" get their own classes. */
function translate(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
    return new UniqueViolation((error as Error).message, { cause: error });
  if (isSqliteUnavailableCode(code)) return new StoreUnavailable(error);
  return error;
}
