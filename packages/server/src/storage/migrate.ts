import { readdir, readFile } from 'node:fs/promises';
import type { SqlDriver, SqlExecutor } from './sql-driver.js';
import type { MigrationStatus } from './store.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const MIGRATIONS_ROOT = new URL('../../migrations/', import.meta.url);
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** The numbered plain-SQL migrations shipped for a dialect, in order. */
export async function loadMigrations(dialect: SqlDriver['dialect']): Promise<Migration[]> {
  const dir = new URL(`${dialect}/`, MIGRATIONS_ROOT);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const [index, file] of files.entries()) {
    const match = FILE_NAME.exec(file);
    if (!match || Number(match[1]) !== index + 1) {
      throw new Error(
        `migration file \`${file}\` breaks the numbering (expected ${String(index + 1).padStart(4, '0')}_<name>.sql)`,
      );
    }
    migrations.push({
      version: index + 1,
      name: match[2] as string,
      sql: await readFile(new URL(file, dir), 'utf8'),
    });
  }
  return migrations;
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`;

async function appliedVersions(ex: SqlExecutor): Promise<number> {
  const rows = await ex.all<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  return Number(rows[0]?.v ?? 0);
}

/**
 * Applies every pending migration in one transaction (all or nothing), holding the
 * migration lock so concurrent nodes neither race nor apply a file twice.
 * Refuses to run against a database newer than this build.
 */
export async function migrate(driver: SqlDriver, nowMs: number): Promise<{ from: number; to: number }> {
  const migrations = await loadMigrations(driver.dialect);
  return driver.transaction(async (ex) => {
    await driver.lockForMigration(ex);
    await driver.script(ex, CREATE_TABLE);
    const from = await appliedVersions(ex);
    if (from > migrations.length) {
      throw new Error(
        `database schema version ${from} is newer than this build knows (${migrations.length})`,
      );
    }
    for (const m of migrations.slice(from)) {
      await driver.script(ex, m.sql);
      await ex.write('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        nowMs,
      ]);
    }
    return { from, to: migrations.length };
  });
}

export async function migrationStatus(driver: SqlDriver): Promise<MigrationStatus> {
  const latest = (await loadMigrations(driver.dialect)).length;
  const exists = await driver.exec.all<{ n: number }>(
    driver.dialect === 'sqlite'
      ? "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
      : "SELECT COUNT(*)::int AS n FROM information_schema.tables WHERE table_name = 'schema_migrations' AND table_schema = current_schema()",
  );
  const applied = Number(exists[0]?.n) > 0 ? await appliedVersions(driver.exec) : 0;
  return { applied, latest };
}
