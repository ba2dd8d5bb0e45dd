import type { BatchUnit, UnitOutcome } from './batch.js';
import type { Change, ChangeFeed } from './change-feed.js';

/** Values a query parameter may hold; booleans are stored as 0/1 by callers. */
export type SqlValue = string | number | null;

/**
 * The narrow surface the repositories need from a database. SQL is written once,
 * with PostgreSQL-style `$1` placeholders; the SQLite driver binds them by number.
 */
export interface SqlExecutor {
  /** A read. Outside a transaction it sees only committed data. */
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** A write, optionally with `RETURNING`; throws `UniqueViolation` on a unique-rule conflict. */
  write<T>(sql: string, params?: readonly SqlValue[]): Promise<{ rows: T[]; changes: number }>;
}

export interface SqlDriver {
  readonly dialect: 'sqlite' | 'postgres';
  /** Executes outside any transaction. */
  readonly exec: SqlExecutor;
  /** Appended to a `SELECT` to lock the selected rows until the transaction ends ('' where not needed). */
  readonly forUpdate: string;
  transaction<T>(fn: (ex: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs a multi-statement script (migrations) inside a transaction. */
  script(ex: SqlExecutor, sql: string): Promise<void>;
  /** Committed changes, for caches; see `change-feed.ts`. */
  readonly changes: ChangeFeed;
  /** Announces a change from inside a transaction (PostgreSQL `NOTIFY`, delivered at commit); a no-op where all is local. */
  notify(ex: SqlExecutor, change: Change): Promise<void>;
  /** Group-commit writes (see {@link BatchWriter}); the driver owns and closes it. */
  writeBatch(units: readonly BatchUnit[]): Promise<readonly UnitOutcome[]>;
  /** Serialises concurrent migrators (several nodes starting at once). */
  lockForMigration(ex: SqlExecutor): Promise<void>;
  close(): Promise<void>;
}

/** Called with the duration of every database round trip, for metrics. */
export type QueryObserver = (kind: 'read' | 'write' | 'transaction', seconds: number) => void;
