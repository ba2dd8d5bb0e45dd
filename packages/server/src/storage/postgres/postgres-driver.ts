import pg from 'pg';
import { type CanonicalParts, type ChainHead, link, storedCanonicalParts } from '../audit-chain.js';
import type { BatchUnit, UnitOutcome } from '../batch.js';
import { changeChannel, NOTIFY_SQL, postgresChangeFeed } from '../change-feed.js';
import type { QueryObserver, SqlDriver, SqlExecutor, SqlValue } from '../sql-driver.js';
import { chainedEventParams, SQL, selectAuditHead } from '../statements.js';
import { UniqueViolation } from '../store.js';
import { isPostgresUnavailable, StoreUnavailable } from '../store-unavailable.js';

const INT8_OID = 20;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
// Arbitrary constant shared by every Custos node: the advisory lock key of the migrator.
const MIGRATION_LOCK_KEY = 7_461_735_201;

/**
 * Splits the Custos-specific `schema` parameter off a PostgreSQL URL. The schema
 * lets several Custos installs (or test runs) share one database without colliding.
 */
export function parsePostgresUrl(url: string): { connectionString: string; schema: string | null } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema');
  parsed.searchParams.delete('schema');
  if (schema !== null && !SCHEMA_NAME.test(schema)) {
    throw new RangeError(`invalid schema \`${schema}\`: use lowercase letters, digits and underscores`);
  }
  return { connectionString: parsed.toString(), schema };
}

/**
 * PostgreSQL through a `pg` pool. Transactions run at READ COMMITTED; the
 * repositories get their guarantees from unique indexes, conditional updates and
 * `FOR UPDATE` row locks rather than from a stricter isolation level.
 */
export async function openPostgresDriver(
  url: string,
  observe?: QueryObserver,
  onFeedError: (error: unknown) => void = () => undefined,
): Promise<SqlDriver> {
  const { connectionString, schema } = parsePostgresUrl(url);
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === INT8_OID
        ? (value: string) => Number(value)
        : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
  };
  if (schema) {
    const bootstrap = new pg.Client({ connectionString });
    await bootstrap.connect();
    try {
      // INVARIANT: `schema` matched SCHEMA_NAME, so it is a plain identifier
      await bootstrap.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } finally {
      await bootstrap.end();
    }
  }
  const pool = new pg.Pool({
    connectionString,
    types,
    max: 10,
    // a database that stops answering fails requests (503) instead of queueing them forever
    connectionTimeoutMillis: 10_000,
    ...(schema ? { options: `-c search_path="${schema}"` } : {}),
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);

  function executor(client: pg.Pool | pg.PoolClient): SqlExecutor {
    async function query<T>(kind: 'read' | 'write', sql: string, params: readonly SqlValue[]) {
      const start = process.hrtime.bigint();
      try {
        // no parameters: the simple protocol, which also allows multi-statement scripts
        const result = await client.query(sql, params.length > 0 ? (params as SqlValue[]) : undefined);
        return { rows: result.rows as T[], changes: result.rowCount ?? 0 };
      } catch (error) {
        throw translate(error);
      } finally {
        observe?.(kind, Number(process.hrtime.bigint() - start) / 1e9);
      }
    }
    return {
      all: async <T>(sql: string, params: readonly SqlValue[] = []) =>
        (await query<T>('read', sql, params)).rows,
      write: <T>(sql: string, params: readonly SqlValue[] = []) => query<T>('write', sql, params),
    };
  }

  // The pool takes its error listener off a client it hands out: a connection cut between two
  // statements of a transaction would then be an unhandled 'error' event, and crash the process.
  // The statement that follows fails instead (and the client is released as broken).
  const guarded = new WeakSet<pg.PoolClient>();
  async function connect(): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw translate(error);
    }
    if (!guarded.has(client)) {
      client.on('error', () => undefined);
      guarded.add(client);
    }
    return client;
  }

  async function writeBatch(units: readonly BatchUnit[]): Promise<UnitOutcome[]> {
    // canonical forms before the transaction: the audit head stays locked only for hashing and inserts
    const parts = new Map<object, CanonicalParts>();
    for (const unit of units)
      for (const st of unit.statements) if ('audit' in st) parts.set(st, storedCanonicalParts(st.audit));
    const client = await connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const outcomes: UnitOutcome[] = [];
      const chains = units.some((u) => u.statements.some((st) => 'audit' in st));
      const headRow = chains
        ? ((await client.query(selectAuditHead(' FOR UPDATE'))).rows[0] as
            | { seq: number; hash: string }
            | undefined)
        : null;
      if (chains && !headRow) throw new Error('INVARIANT: the audit head row is missing');
      let head: ChainHead | null = headRow ? { seq: Number(headRow.seq), hash: headRow.hash } : null;
      for (const unit of units) {
        const headBefore = head;
        const guarded = unit.statements.some((st, i) => i > 0 && 'expect' in st && st.expect !== undefined);
        if (guarded) await client.query('SAVEPOINT unit');
        let failed: UnitOutcome | null = null;
        const rows: Record<string, unknown>[][] = [];
        for (const [i, statement] of unit.statements.entries()) {
          if ('audit' in statement) {
            const chained = link(head as ChainHead, statement.audit, parts.get(statement));
            await client.query(SQL.appendAuditEvent, chainedEventParams(statement.audit, chained));
            head = { seq: chained.seq, hash: chained.hash };
            rows.push([{ seq: chained.seq }]);
            continue;
          }
          const result = await client.query(statement.sql, statement.params as SqlValue[]);
          rows.push(result.rows as Record<string, unknown>[]);
          if (statement.expect && (result.rowCount ?? 0) !== statement.expect.changes) {
            failed = { ok: false, code: statement.expect.code, statement: i };
            break;
          }
        }
        if (guarded) {
          if (failed) await client.query('ROLLBACK TO SAVEPOINT unit');
          await client.query('RELEASE SAVEPOINT unit');
        }
        if (failed) head = headBefore;
        outcomes.push(failed ?? { ok: true, rows });
      }
      if (head && headRow && head.seq !== Number(headRow.seq))
        await client.query(SQL.updateAuditHead, [head.seq, head.hash]);
      await client.query('COMMIT');
      return outcomes;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw translate(error);
    } finally {
      client.release(broken);
    }
  }

  const changes = await postgresChangeFeed({ connectionString, schema }, onFeedError);
  const channel = changeChannel(schema);

  return {
    dialect: 'postgres',
    changes,
    notify: async (ex, change) => {
      await ex.all(NOTIFY_SQL, [channel, JSON.stringify(change)]);
    },
    writeBatch,
    forUpdate: ' FOR UPDATE',
    exec: executor(pool),
    async transaction(fn) {
      const start = process.hrtime.bigint();
      const client = await connect();
      let broken = false;
      try {
        await client.query('BEGIN').catch((error: unknown) => Promise.reject(translate(error)));
        const result = await fn(executor(client));
        await client.query('COMMIT').catch((error: unknown) => Promise.reject(translate(error)));
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        client.release(broken);
        observe?.('transaction', Number(process.hrtime.bigint() - start) / 1e9);
      }
    },
    script: async (ex, sql) => {
      await ex.write(sql);
    },
    lockForMigration: async (ex) => {
      await ex.all('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    },
    close: async () => {
      await changes.close();
      await pool.end();
    },
  };
}

/** A `pg` error as the store reports it: unique violations and "cannot reach or write now" get their own classes. */
function translate(error: unknown): unknown {
  if (error instanceof UniqueViolation || error instanceof StoreUnavailable) return error;
  if ((error as { code?: unknown } | null)?.code === '23505')
    return new UniqueViolation((error as Error).message, { cause: error });
  if (isPostgresUnavailable(error)) return new StoreUnavailable(error);
  return error;
}
