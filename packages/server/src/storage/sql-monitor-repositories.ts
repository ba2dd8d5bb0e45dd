import { CustosError } from '../core/index.js';
import { decodeCursor, toPage } from './pagination.js';
import type { AuditEventRecord, Page } from './records.js';
import type { SqlExecutor, SqlValue } from './sql-driver.js';

export type FindingStatus = 'open' | 'acknowledged' | 'resolved' | 'false_positive';
export type FindingSeverity = 'low' | 'medium' | 'high' | 'critical';

/** A finding of the monitor: what a detector saw about one agent, and where people are with it. */
export interface FindingRecord {
  readonly id: string;
  readonly detector: string;
  readonly severity: FindingSeverity;
  readonly agentId: string;
  readonly dedupKey: string;
  readonly status: FindingStatus;
  readonly title: string;
  readonly explanation: string;
  /** The events that show it (summaries pointing at audit sequence numbers). */
  readonly evidence: readonly Readonly<Record<string, unknown>>[];
  readonly occurrences: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** The automatic action a response rule took, if any. */
  readonly response: string | null;
  readonly statusReason: string | null;
  readonly statusBy: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface FindingFilter {
  readonly cursor?: string | undefined;
  readonly limit: number;
  readonly status?: FindingStatus | undefined;
  readonly agentId?: string | undefined;
  readonly detector?: string | undefined;
  readonly severity?: FindingSeverity | undefined;
  /** Only findings about agents this user owns. */
  readonly ownerId?: string | undefined;
}

/** One alert or Security Event Token to deliver, until the receiver acknowledges it. */
export interface DeliveryRecord {
  readonly id: string;
  readonly channel: 'webhook' | 'set';
  readonly target: string;
  readonly contentType: string;
  readonly body: string;
  readonly findingId: string | null;
  readonly attempts: number;
  readonly nextAt: number;
  readonly deliveredAt: number | null;
  readonly lastError: string | null;
  readonly createdAt: number;
}

/** The pipeline's position in the audit log, and who runs it. */
export interface MonitorStateRecord {
  readonly name: string;
  readonly cursor: number;
  readonly baselineSeq: number;
  readonly leaseOwner: string | null;
  readonly leaseUntil: number | null;
  readonly updatedAt: number;
}

export interface RestrictionRecord {
  readonly agentId: string;
  readonly mode: 'approval_required';
  readonly findingId: string | null;
  readonly reason: string;
  readonly createdBy: string;
  readonly createdAt: number;
}

/** The key Security Event Tokens are signed with; the private half sealed with the master key. */
export interface SetKeyRecord {
  readonly kid: string;
  readonly alg: string;
  readonly publicJwk: Readonly<Record<string, unknown>>;
  readonly privateKey: string;
  readonly createdAt: number;
}

export interface MonitorRepositories {
  readonly monitor: {
    readonly state: {
      /** Creates the row at `cursor` (baselines including everything up to `baselineSeq`) unless it exists. */
      ensure(name: string, cursor: number, baselineSeq: number, at: number): Promise<void>;
      get(name: string): Promise<MonitorStateRecord | null>;
      /** Takes (or renews) the lease for `owner` unless another owner holds it past `now`. */
      lease(name: string, owner: string, until: number, now: number): Promise<MonitorStateRecord | null>;
      release(name: string, owner: string): Promise<void>;
      /** Compare-and-set of the cursor by the lease holder; false when either moved. */
      advance(name: string, owner: string, from: number, to: number, at: number): Promise<boolean>;
      /** Records the last sequence number the stored baselines include (lease holder only). */
      setBaselineSeq(name: string, owner: string, seq: number, at: number): Promise<boolean>;
    };
    readonly baselines: {
      list(): Promise<readonly { agentId: string; data: string }[]>;
      get(agentId: string): Promise<string | null>;
      put(agentId: string, data: string, at: number): Promise<void>;
      delete(agentId: string): Promise<boolean>;
    };
    readonly findings: {
      insert(finding: FindingRecord): Promise<void>;
      get(id: string): Promise<FindingRecord | null>;
      /** The open or acknowledged finding with this key, if any. */
      openByKey(dedupKey: string): Promise<FindingRecord | null>;
      /** Records a repeat: newer evidence, one more occurrence, the higher severity. */
      repeat(
        id: string,
        fields: { severity: FindingSeverity; lastSeen: number; evidence: readonly Record<string, unknown>[] },
        at: number,
      ): Promise<void>;
      /** Compare-and-set of the status; null when the finding is not in one of `from`. */
      setStatus(
        id: string,
        from: readonly FindingStatus[],
        to: FindingStatus,
        fields: { reason: string | null; by: string },
        at: number,
      ): Promise<FindingRecord | null>;
      setResponse(id: string, response: string, at: number): Promise<void>;
      list(filter: FindingFilter): Promise<Page<FindingRecord>>;
      /** Counts by status (for metrics and the console). */
      countByStatus(): Promise<Readonly<Record<string, number>>>;
    };
    readonly deliveries: {
      insert(delivery: DeliveryRecord): Promise<void>;
      /** Undelivered deliveries due at `now`, oldest first. */
      due(now: number, limit: number): Promise<readonly DeliveryRecord[]>;
      delivered(id: string, at: number): Promise<void>;
      failed(id: string, attempts: number, nextAt: number, error: string): Promise<void>;
      list(filter: {
        findingId?: string;
        channel?: DeliveryRecord['channel'];
      }): Promise<readonly DeliveryRecord[]>;
      pending(): Promise<number>;
    };
    readonly restrictions: {
      /** Inserts or replaces the agent's restriction. */
      put(restriction: RestrictionRecord): Promise<void>;
      get(agentId: string): Promise<RestrictionRecord | null>;
      list(): Promise<readonly RestrictionRecord[]>;
      delete(agentId: string): Promise<boolean>;
    };
    readonly setKeys: {
      list(): Promise<readonly SetKeyRecord[]>;
      /** False when a key with that kid exists already. */
      insert(key: SetKeyRecord): Promise<boolean>;
      reseal(kid: string, privateKey: string): Promise<void>;
    };
    /**
     * Audit events with a sequence number in (`after`, `through`] whose action
     * is one of `actions` or starts with one of `prefixes`, in order, at most `limit`.
     */
    events(
      after: number,
      through: number,
      actions: readonly string[],
      prefixes: readonly string[],
      limit: number,
    ): Promise<readonly AuditEventRecord[]>;
  };
}

type FindingRow = {
  id: string;
  detector: string;
  severity: FindingSeverity;
  agent_id: string;
  dedup_key: string;
  status: FindingStatus;
  title: string;
  explanation: string;
  evidence: string;
  occurrences: number;
  first_seen: number;
  last_seen: number;
  response: string | null;
  status_reason: string | null;
  status_by: string | null;
  created_at: number;
  updated_at: number;
};
const toFinding = (r: FindingRow): FindingRecord => ({
  id: r.id,
  detector: r.detector,
  severity: r.severity,
  agentId: r.agent_id,
  dedupKey: r.dedup_key,
  status: r.status,
  title: r.title,
  explanation: r.explanation,
  evidence: JSON.parse(r.evidence) as Record<string, unknown>[],
  occurrences: Number(r.occurrences),
  firstSeen: Number(r.first_seen),
  lastSeen: Number(r.last_seen),
  response: r.response,
  statusReason: r.status_reason,
  statusBy: r.status_by,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

type DeliveryRow = {
  id: string;
  channel: DeliveryRecord['channel'];
  target: string;
  content_type: string;
  body: string;
  finding_id: string | null;
  attempts: number;
  next_at: number;
  delivered_at: number | null;
  last_error: string | null;
  created_at: number;
};
const toDelivery = (r: DeliveryRow): DeliveryRecord => ({
  id: r.id,
  channel: r.channel,
  target: r.target,
  contentType: r.content_type,
  body: r.body,
  findingId: r.finding_id,
  attempts: Number(r.attempts),
  nextAt: Number(r.next_at),
  deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
  lastError: r.last_error,
  createdAt: Number(r.created_at),
});

type StateRow = {
  name: string;
  cursor: number;
  baseline_seq: number;
  lease_owner: string | null;
  lease_until: number | null;
  updated_at: number;
};
const toState = (r: StateRow): MonitorStateRecord => ({
  name: r.name,
  cursor: Number(r.cursor),
  baselineSeq: Number(r.baseline_seq),
  leaseOwner: r.lease_owner,
  leaseUntil: r.lease_until === null ? null : Number(r.lease_until),
  updatedAt: Number(r.updated_at),
});

type RestrictionRow = {
  agent_id: string;
  mode: 'approval_required';
  finding_id: string | null;
  reason: string;
  created_by: string;
  created_at: number;
};
const toRestriction = (r: RestrictionRow): RestrictionRecord => ({
  agentId: r.agent_id,
  mode: r.mode,
  findingId: r.finding_id,
  reason: r.reason,
  createdBy: r.created_by,
  createdAt: Number(r.created_at),
});

type AuditRow = {
  seq: number;
  id: string;
  at: number;
  request_id: string | null;
  actor_type: string;
  actor_id: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: AuditEventRecord['outcome'];
  reason: string | null;
  details: string;
  prev_hash: string | null;
  hash: string | null;
};
const toAuditEvent = (r: AuditRow): AuditEventRecord => ({
  seq: Number(r.seq),
  id: r.id,
  at: Number(r.at),
  requestId: r.request_id,
  actorType: r.actor_type,
  actorId: r.actor_id,
  action: r.action,
  targetType: r.target_type,
  targetId: r.target_id,
  outcome: r.outcome,
  reason: r.reason,
  details: JSON.parse(r.details) as Record<string, unknown>,
  prevHash: r.prev_hash,
  hash: r.hash,
});

/** The monitor's tables, in the SQL both dialects share. */
export function monitorRepositories(ex: SqlExecutor): MonitorRepositories {
  return {
    monitor: {
      state: {
        async ensure(name, cursor, baselineSeq, at) {
          await ex.write(
            `INSERT INTO monitor_state (name, cursor, baseline_seq, updated_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (name) DO NOTHING`,
            [name, cursor, baselineSeq, at],
          );
        },
        async get(name) {
          const rows = await ex.all<StateRow>('SELECT * FROM monitor_state WHERE name = $1', [name]);
          return rows[0] ? toState(rows[0]) : null;
        },
        async lease(name, owner, until, now) {
          const { rows } = await ex.write<StateRow>(
            `UPDATE monitor_state SET lease_owner = $1, lease_until = $2
               WHERE name = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < $4) RETURNING *`,
            [owner, until, name, now],
          );
          return rows[0] ? toState(rows[0]) : null;
        },
        async release(name, owner) {
          await ex.write(
            'UPDATE monitor_state SET lease_owner = NULL, lease_until = NULL WHERE name = $1 AND lease_owner = $2',
            [name, owner],
          );
        },
        async advance(name, owner, from, to, at) {
          const { changes } = await ex.write(
            `UPDATE monitor_state SET cursor = $1, updated_at = $2
               WHERE name = $3 AND cursor = $4 AND lease_owner = $5`,
            [to, at, name, from, owner],
          );
          return changes === 1;
        },
        async setBaselineSeq(name, owner, seq, at) {
          const { changes } = await ex.write(
            'UPDATE monitor_state SET baseline_seq = $1, updated_at = $2 WHERE name = $3 AND lease_owner = $4',
            [seq, at, name, owner],
          );
          return changes === 1;
        },
      },
      baselines: {
        async list() {
          const rows = await ex.all<{ agent_id: string; data: string }>(
            'SELECT agent_id, data FROM monitor_baselines ORDER BY agent_id',
          );
          return rows.map((r) => ({ agentId: r.agent_id, data: r.data }));
        },
        async get(agentId) {
          const rows = await ex.all<{ data: string }>(
            'SELECT data FROM monitor_baselines WHERE agent_id = $1',
            [agentId],
          );
          return rows[0]?.data ?? null;
        },
        async put(agentId, data, at) {
          await ex.write(
            `INSERT INTO monitor_baselines (agent_id, data, updated_at) VALUES ($1, $2, $3)
               ON CONFLICT (agent_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
            [agentId, data, at],
          );
        },
        async delete(agentId) {
          return (
            (await ex.write('DELETE FROM monitor_baselines WHERE agent_id = $1', [agentId])).changes === 1
          );
        },
      },
      findings: {
        async insert(f) {
          await ex.write(
            `INSERT INTO monitor_findings (id, detector, severity, agent_id, dedup_key, status, title, explanation,
               evidence, occurrences, first_seen, last_seen, response, status_reason, status_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
            [
              f.id,
              f.detector,
              f.severity,
              f.agentId,
              f.dedupKey,
              f.status,
              f.title,
              f.explanation,
              JSON.stringify(f.evidence),
              f.occurrences,
              f.firstSeen,
              f.lastSeen,
              f.response,
              f.statusReason,
              f.statusBy,
              f.createdAt,
              f.updatedAt,
            ],
          );
        },
        async get(id) {
          const rows = await ex.all<FindingRow>('SELECT * FROM monitor_findings WHERE id = $1', [id]);
          return rows[0] ? toFinding(rows[0]) : null;
        },
        async openByKey(dedupKey) {
          const rows = await ex.all<FindingRow>(
            `SELECT * FROM monitor_findings WHERE dedup_key = $1 AND status IN ('open', 'acknowledged')
               ORDER BY id DESC LIMIT 1`,
            [dedupKey],
          );
          return rows[0] ? toFinding(rows[0]) : null;
        },
        async repeat(id, fields, at) {
          await ex.write(
            `UPDATE monitor_findings SET severity = $1, last_seen = $2, evidence = $3,
               occurrences = occurrences + 1, updated_at = $4 WHERE id = $5`,
            [fields.severity, fields.lastSeen, JSON.stringify(fields.evidence), at, id],
          );
        },
        async setStatus(id, from, to, fields, at) {
          const placeholders = from.map((_, i) => `$${i + 6}`).join(', ');
          const { rows } = await ex.write<FindingRow>(
            `UPDATE monitor_findings SET status = $1, status_reason = $2, status_by = $3, updated_at = $4
               WHERE id = $5 AND status IN (${placeholders}) RETURNING *`,
            [to, fields.reason, fields.by, at, id, ...from],
          );
          return rows[0] ? toFinding(rows[0]) : null;
        },
        async setResponse(id, response, at) {
          await ex.write('UPDATE monitor_findings SET response = $1, updated_at = $2 WHERE id = $3', [
            response,
            at,
            id,
          ]);
        },
        async list(filter) {
          const clauses: string[] = [];
          const params: SqlValue[] = [];
          const add = (clause: string, value: SqlValue) => {
            params.push(value);
            clauses.push(clause.replace('?', `$${params.length}`));
          };
          if (filter.cursor !== undefined) {
            const key = decodeCursor(filter.cursor);
            if (key === null) {
              throw new CustosError('validation_failed', `invalid cursor \`${filter.cursor}\``, {
                fields: [{ pointer: '/cursor', detail: 'not a cursor returned by this API' }],
              });
            }
            add('f.id < ?', key);
          }
          if (filter.status) add('f.status = ?', filter.status);
          if (filter.agentId) add('f.agent_id = ?', filter.agentId);
          if (filter.detector) add('f.detector = ?', filter.detector);
          if (filter.severity) add('f.severity = ?', filter.severity);
          if (filter.ownerId)
            add('EXISTS (SELECT 1 FROM agents a WHERE a.id = f.agent_id AND a.owner_id = ?)', filter.ownerId);
          params.push(filter.limit + 1);
          const rows = await ex.all<FindingRow>(
            `SELECT f.* FROM monitor_findings f${clauses.length ? ` WHERE ${clauses.join(' AND ')}` : ''}
               ORDER BY f.id DESC LIMIT $${params.length}`,
            params,
          );
          return toPage(rows.map(toFinding), filter.limit, (f) => f.id);
        },
        async countByStatus() {
          const rows = await ex.all<{ status: string; n: number }>(
            'SELECT status, COUNT(*) AS n FROM monitor_findings GROUP BY status',
          );
          return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
        },
      },
      deliveries: {
        async insert(d) {
          await ex.write(
            `INSERT INTO monitor_deliveries (id, channel, target, content_type, body, finding_id, attempts, next_at,
               delivered_at, last_error, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
            [
              d.id,
              d.channel,
              d.target,
              d.contentType,
              d.body,
              d.findingId,
              d.attempts,
              d.nextAt,
              d.deliveredAt,
              d.lastError,
              d.createdAt,
            ],
          );
        },
        async due(now, limit) {
          const rows = await ex.all<DeliveryRow>(
            `SELECT * FROM monitor_deliveries WHERE delivered_at IS NULL AND next_at <= $1
               ORDER BY next_at, id LIMIT $2`,
            [now, limit],
          );
          return rows.map(toDelivery);
        },
        async delivered(id, at) {
          await ex.write('UPDATE monitor_deliveries SET delivered_at = $1, last_error = NULL WHERE id = $2', [
            at,
            id,
          ]);
        },
        async failed(id, attempts, nextAt, error) {
          await ex.write(
            'UPDATE monitor_deliveries SET attempts = $1, next_at = $2, last_error = $3 WHERE id = $4',
            [attempts, nextAt, error.slice(0, 500), id],
          );
        },
        async list(filter) {
          const clauses: string[] = [];
          const params: SqlValue[] = [];
          if (filter.findingId) {
            params.push(filter.findingId);
            clauses.push(`finding_id = $${params.length}`);
          }
          if (filter.channel) {
            params.push(filter.channel);
            clauses.push(`channel = $${params.length}`);
          }
          const rows = await ex.all<DeliveryRow>(
            `SELECT * FROM monitor_deliveries${clauses.length ? ` WHERE ${clauses.join(' AND ')}` : ''} ORDER BY id`,
            params,
          );
          return rows.map(toDelivery);
        },
        async pending() {
          const rows = await ex.all<{ n: number }>(
            'SELECT COUNT(*) AS n FROM monitor_deliveries WHERE delivered_at IS NULL',
          );
          return Number(rows[0]?.n ?? 0);
        },
      },
      restrictions: {
        async put(r) {
          await ex.write(
            `INSERT INTO monitor_restrictions (agent_id, mode, finding_id, reason, created_by, created_at)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (agent_id) DO UPDATE SET mode = excluded.mode, finding_id = excluded.finding_id,
                 reason = excluded.reason, created_by = excluded.created_by, created_at = excluded.created_at`,
            [r.agentId, r.mode, r.findingId, r.reason, r.createdBy, r.createdAt],
          );
        },
        async get(agentId) {
          const rows = await ex.all<RestrictionRow>(
            'SELECT * FROM monitor_restrictions WHERE agent_id = $1',
            [agentId],
          );
          return rows[0] ? toRestriction(rows[0]) : null;
        },
        async list() {
          return (await ex.all<RestrictionRow>('SELECT * FROM monitor_restrictions ORDER BY agent_id')).map(
            toRestriction,
          );
        },
        async delete(agentId) {
          return (
            (await ex.write('DELETE FROM monitor_restrictions WHERE agent_id = $1', [agentId])).changes === 1
          );
        },
      },
      setKeys: {
        async list() {
          const rows = await ex.all<{
            kid: string;
            alg: string;
            public_jwk: string;
            private_key: string;
            created_at: number;
          }>('SELECT * FROM monitor_set_keys ORDER BY created_at, kid');
          return rows.map((r) => ({
            kid: r.kid,
            alg: r.alg,
            publicJwk: JSON.parse(r.public_jwk) as Record<string, unknown>,
            privateKey: r.private_key,
            createdAt: Number(r.created_at),
          }));
        },
        async insert(k) {
          const { changes } = await ex.write(
            `INSERT INTO monitor_set_keys (kid, alg, public_jwk, private_key, created_at) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (kid) DO NOTHING`,
            [k.kid, k.alg, JSON.stringify(k.publicJwk), k.privateKey, k.createdAt],
          );
          return changes === 1;
        },
        async reseal(kid, privateKey) {
          await ex.write('UPDATE monitor_set_keys SET private_key = $1 WHERE kid = $2', [privateKey, kid]);
        },
      },
      async events(after, through, actions, prefixes, limit) {
        const params: SqlValue[] = [after, through];
        const inList = actions.map((a) => `$${params.push(a)}`).join(', ');
        const likes = prefixes.map(
          (p) => `action LIKE $${params.push(`${p.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)} ESCAPE '\\'`,
        );
        const match =
          [...(actions.length ? [`action IN (${inList})`] : []), ...likes].join(' OR ') || 'FALSE';
        params.push(limit);
        const rows = await ex.all<AuditRow>(
          `SELECT * FROM audit_events WHERE seq > $1 AND seq <= $2 AND (${match}) ORDER BY seq LIMIT $${params.length}`,
          params,
        );
        return rows.map(toAuditEvent);
      },
    },
  };
}
