import type { Change } from './change-feed.js';
import { migrate, migrationStatus } from './migrate.js';
import { openPostgresDriver } from './postgres/postgres-driver.js';
import type { QueryObserver, SqlDriver } from './sql-driver.js';
import { sqlRepositories } from './sql-repositories.js';
import { openSqliteDriver } from './sqlite/sqlite-driver.js';
import type { Store } from './store.js';

/** Where the data lives: `sqlite:<path>` or `postgres://…` / `postgresql://…`. */
export type DatabaseUrl = string;

export interface OpenStoreOptions {
  /** Apply pending migrations before returning (the server does; `readyz` reports otherwise). */
  readonly migrate?: boolean;
  readonly observe?: QueryObserver;
  readonly nowMs?: number;
}

async function openDriver(url: DatabaseUrl, observe?: QueryObserver): Promise<SqlDriver> {
  if (url.startsWith('sqlite:')) return openSqliteDriver(url.slice('sqlite:'.length), observe);
  if (url.startsWith('postgres://') || url.startsWith('postgresql://'))
    return openPostgresDriver(url, observe);
  throw new RangeError(`unsupported database url \`${url}\`: use sqlite:<path> or postgres://…`);
}

/** Builds a {@link Store} over an open driver. */
export function storeOver(driver: SqlDriver): Store {
  const outside = sqlRepositories(driver.exec, driver.forUpdate);
  return {
    dialect: driver.dialect,
    ...outside,
    // appending reads and advances the chain head: always in a transaction of its own
    audit: {
      ...outside.audit,
      append: (event) =>
        driver.transaction((ex) => sqlRepositories(ex, driver.forUpdate).audit.append(event)),
    },
    changes: driver.changes,
    transaction: async (fn) => {
      const announced: Change[] = [];
      const result = await driver.transaction((ex) => {
        let depth = 0;
        return fn({
          ...sqlRepositories(ex, driver.forUpdate),
          async notify(change) {
            await driver.notify(ex, change);
            announced.push(change);
          },
          async savepoint(unit) {
            const name = `sp_${++depth}`;
            await ex.write(`SAVEPOINT ${name}`);
            try {
              const result = await unit();
              await ex.write(`RELEASE SAVEPOINT ${name}`);
              return result;
            } catch (error) {
              await ex.write(`ROLLBACK TO SAVEPOINT ${name}`);
              await ex.write(`RELEASE SAVEPOINT ${name}`);
              throw error;
            }
          },
        });
      });
      // committed: tell this process's caches now (other processes hear the NOTIFY)
      driver.changes.deliverLocal(announced);
      return result;
    },
    writeBatch: (units) => driver.writeBatch(units),
    ping: async () => {
      await driver.exec.all('SELECT 1 AS ok');
    },
    migrationStatus: () => migrationStatus(driver),
    close: () => driver.close(),
  };
}

/**
 * Opens the store named by `url`. With `migrate: true` the schema is brought up
 * to date first (safe to run from several nodes at once).
 */
export async function openStore(url: DatabaseUrl, options: OpenStoreOptions = {}): Promise<Store> {
  const driver = await openDriver(url, options.observe);
  try {
    if (options.migrate) await migrate(driver, options.nowMs ?? Date.now());
  } catch (error) {
    await driver.close();
    throw error;
  }
  return storeOver(driver);
}

/** Applies pending migrations to the database at `url` and reports the versions. */
export async function migrateDatabase(
  url: DatabaseUrl,
  nowMs: number,
): Promise<{ from: number; to: number }> {
  const driver = await openDriver(url);
  try {
    return await migrate(driver, nowMs);
  } finally {
    await driver.close();
  }
}
