import type { ChainHead } from './audit-chain.js';
import type { SqlExecutor } from './sql-driver.js';
import type { Repositories } from './store.js';

type CheckpointRow = { size: number; hash: string; at: number; note: string; sunk_at: number | null };
const toCheckpoint = (r: CheckpointRow) => ({
  size: Number(r.size),
  hash: r.hash,
  at: Number(r.at),
  note: r.note,
  sunkAt: r.sunk_at === null ? null : Number(r.sunk_at),
});

type SinkRow = {
  name: string;
  cursor: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  updated_at: number;
};
const toSink = (r: SinkRow) => ({
  name: r.name,
  cursor: Number(r.cursor),
  leaseOwner: r.lease_owner,
  leaseUntil: r.lease_until === null ? null : Number(r.lease_until),
  lastError: r.last_error,
  updatedAt: Number(r.updated_at),
});

/** The audit chain's head, checkpoints and signing key, in the SQL both dialects share. */
export function auditLogRepositories(ex: SqlExecutor): Pick<Repositories, 'auditLog'> {
  return {
    auditLog: {
      async head(): Promise<ChainHead> {
        const [row] = await ex.all<{ seq: number; hash: string }>(
          'SELECT seq, hash FROM audit_head WHERE id = 1',
        );
        if (!row) throw new Error('INVARIANT: the audit head row is missing');
        return { seq: Number(row.seq), hash: row.hash };
      },
      async insertCheckpoint(c) {
        const { changes } = await ex.write(
          'INSERT INTO audit_checkpoints (size, hash, at, note, sunk_at) VALUES ($1, $2, $3, $4, NULL) ON CONFLICT (size) DO NOTHING',
          [c.size, c.hash, c.at, c.note],
        );
        return changes === 1;
      },
      async latestCheckpoint() {
        const rows = await ex.all<CheckpointRow>(
          'SELECT * FROM audit_checkpoints ORDER BY size DESC LIMIT 1',
        );
        return rows[0] ? toCheckpoint(rows[0]) : null;
      },
      async listCheckpoints(afterSize = 0) {
        const rows = await ex.all<CheckpointRow>(
          'SELECT * FROM audit_checkpoints WHERE size > $1 ORDER BY size',
          [afterSize],
        );
        return rows.map(toCheckpoint);
      },
      async unsunkCheckpoints() {
        const rows = await ex.all<CheckpointRow>(
          'SELECT * FROM audit_checkpoints WHERE sunk_at IS NULL ORDER BY size',
        );
        return rows.map(toCheckpoint);
      },
      async markSunk(size, at) {
        await ex.write('UPDATE audit_checkpoints SET sunk_at = $1 WHERE size = $2', [at, size]);
      },
      async getKey(name) {
        const rows = await ex.all<{
          name: string;
          public_key: string;
          private_key: string;
          created_at: number;
        }>('SELECT * FROM audit_keys WHERE name = $1', [name]);
        const r = rows[0];
        return r
          ? {
              name: r.name,
              publicKey: r.public_key,
              privateKey: r.private_key,
              createdAt: Number(r.created_at),
            }
          : null;
      },
      async keyNames() {
        return (await ex.all<{ name: string }>('SELECT name FROM audit_keys ORDER BY name')).map(
          (r) => r.name,
        );
      },
      async resealKey(name, privateKey) {
        await ex.write('UPDATE audit_keys SET private_key = $1 WHERE name = $2', [privateKey, name]);
      },
      async firstSeq() {
        const rows = await ex.all<{ seq: number | null }>('SELECT MIN(seq) AS seq FROM audit_events');
        const seq = rows[0]?.seq;
        return seq === null || seq === undefined ? null : Number(seq);
      },
      async deleteThrough(seq) {
        const { changes } = await ex.write('DELETE FROM audit_events WHERE seq <= $1', [seq]);
        return changes;
      },
      async listSinks() {
        return (await ex.all<SinkRow>('SELECT * FROM audit_sinks ORDER BY name')).map(toSink);
      },
      async ensureSink(name, cursor, at) {
        await ex.write(
          'INSERT INTO audit_sinks (name, cursor, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
          [name, cursor, at],
        );
      },
      async leaseSink(name, owner, until, now) {
        const { rows } = await ex.write<SinkRow>(
          `UPDATE audit_sinks SET lease_owner = $1, lease_until = $2
             WHERE name = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < $4) RETURNING *`,
          [owner, until, name, now],
        );
        return rows[0] ? toSink(rows[0]) : null;
      },
      async releaseSink(name, owner) {
        await ex.write(
          'UPDATE audit_sinks SET lease_owner = NULL, lease_until = NULL WHERE name = $1 AND lease_owner = $2',
          [name, owner],
        );
      },
      async advanceSink(name, owner, from, to, at) {
        const { changes } = await ex.write(
          `UPDATE audit_sinks SET cursor = $1, last_error = NULL, updated_at = $2
             WHERE name = $3 AND cursor = $4 AND lease_owner = $5`,
          [to, at, name, from, owner],
        );
        return changes === 1;
      },
      async sinkFailed(name, owner, error, at) {
        await ex.write(
          'UPDATE audit_sinks SET last_error = $1, updated_at = $2 WHERE name = $3 AND lease_owner = $4',
          [error.slice(0, 500), at, name, owner],
        );
      },
      async insertKey(k) {
        const { changes } = await ex.write(
          'INSERT INTO audit_keys (name, public_key, private_key, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING',
          [k.name, k.publicKey, k.privateKey, k.createdAt],
        );
        return changes === 1;
      },
    },
  };
}
