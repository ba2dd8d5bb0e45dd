import type { SecretRecord } from './records.js';
import type { SqlExecutor } from './sql-driver.js';
import type { Repositories } from './store.js';

type SecretRow = {
  name: string;
  description: string;
  data_key: string;
  value: string;
  version: number;
  created_by: string;
  created_at: number;
  updated_at: number;
};
const toSecret = (r: SecretRow): SecretRecord => ({
  name: r.name,
  description: r.description,
  dataKey: r.data_key,
  value: r.value,
  version: Number(r.version),
  createdBy: r.created_by,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

/** The vault's table, in the SQL both dialects share. */
export function secretRepositories(ex: SqlExecutor, forUpdate: string): Pick<Repositories, 'secrets'> {
  return {
    secrets: {
      async get(name, options) {
        const rows = await ex.all<SecretRow>(
          `SELECT * FROM secrets WHERE name = $1${options?.lock ? forUpdate : ''}`,
          [name],
        );
        return rows[0] ? toSecret(rows[0]) : null;
      },
      async put(s) {
        await ex.write(
          `INSERT INTO secrets (name, description, data_key, value, version, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (name) DO UPDATE SET description = excluded.description, data_key = excluded.data_key,
               value = excluded.value, version = excluded.version, updated_at = excluded.updated_at`,
          [s.name, s.description, s.dataKey, s.value, s.version, s.createdBy, s.createdAt, s.updatedAt],
        );
      },
      async list() {
        return (await ex.all<SecretRow>('SELECT * FROM secrets ORDER BY name')).map(toSecret);
      },
      async delete(name) {
        return (await ex.write('DELETE FROM secrets WHERE name = $1', [name])).changes === 1;
      },
    },
  };
}
