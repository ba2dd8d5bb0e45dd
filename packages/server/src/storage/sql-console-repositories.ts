import type {
  ActivityCountRow,
  AgentActivityRow,
  AgentCountRow,
  ConsoleSessionRecord,
  LoginThrottleRecord,
  UserPasswordRecord,
} from './console-records.js';
import type { SqlExecutor, SqlValue } from './sql-driver.js';

/**
 * The console's tables (password accounts, sessions, login throttling) and the
 * aggregate reads behind the dashboard. Written once in the SQL both dialects share.
 */
export interface ConsoleRepositories {
  readonly passwords: {
    get(userId: string): Promise<UserPasswordRecord | null>;
    /** Inserts or replaces the user's password and role. */
    put(record: UserPasswordRecord): Promise<void>;
    delete(userId: string): Promise<boolean>;
  };
  readonly sessions: {
    insert(session: ConsoleSessionRecord): Promise<void>;
    get(idHash: string): Promise<ConsoleSessionRecord | null>;
    touch(idHash: string, at: number): Promise<void>;
    delete(idHash: string): Promise<boolean>;
    /** Ends every session of a password user (password changed or removed); returns how many. */
    deleteForUser(userId: string): Promise<number>;
    /** Deletes sessions past their absolute end or idle since before `idleBefore`. */
    deleteExpired(now: number, idleBefore: number): Promise<number>;
  };
  readonly loginThrottle: {
    get(key: string): Promise<LoginThrottleRecord | null>;
    /**
     * Counts one failure atomically (safe under concurrent sign-ins on several
     * nodes): a window that started at or before `windowStartedBefore` restarts at 1.
     */
    recordFailure(key: string, now: number, windowStartedBefore: number): Promise<LoginThrottleRecord>;
    lock(key: string, until: number): Promise<void>;
    clear(key: string): Promise<void>;
    /** Deletes counters whose window started before `windowStartedBefore` and that are not locked at `now`. */
    deleteStale(now: number, windowStartedBefore: number): Promise<number>;
  };
  readonly dashboard: {
    /** Agents counted by status, environment and risk; only `ownerId`'s when given. */
    agentCounts(ownerId: string | null): Promise<readonly AgentCountRow[]>;
    /** Events of `actions` since `from`, counted per `bucketMs` bucket, action and outcome. */
    activity(
      from: number,
      bucketMs: number,
      actions: readonly string[],
    ): Promise<readonly ActivityCountRow[]>;
    /** Ids of active agents (only `ownerId`'s when given) ending before `until`, soonest first. */
    expiring(until: number, ownerId: string | null, limit: number): Promise<readonly string[]>;
    /** Active agents (only `ownerId`'s when given) with the time of their latest activity. */
    agentActivity(ownerId: string | null): Promise<readonly AgentActivityRow[]>;
  };
}

type PasswordRow = {
  user_id: string;
  password_hash: string;
  console_role: UserPasswordRecord['consoleRole'];
  created_at: number;
  updated_at: number;
};
const toPassword = (r: PasswordRow): UserPasswordRecord => ({
  userId: r.user_id,
  passwordHash: r.password_hash,
  consoleRole: r.console_role,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

type SessionRow = {
  id_hash: string;
  method: ConsoleSessionRecord['method'];
  admin_token_id: string | null;
  user_id: string | null;
  address: string;
  user_agent: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
};
const toSession = (r: SessionRow): ConsoleSessionRecord => ({
  idHash: r.id_hash,
  method: r.method,
  adminTokenId: r.admin_token_id,
  userId: r.user_id,
  address: r.address,
  userAgent: r.user_agent,
  createdAt: Number(r.created_at),
  lastSeenAt: Number(r.last_seen_at),
  expiresAt: Number(r.expires_at),
});

type ThrottleRow = { key: string; failures: number; window_start: number; locked_until: number | null };
const toThrottle = (r: ThrottleRow): LoginThrottleRecord => ({
  key: r.key,
  failures: Number(r.failures),
  windowStart: Number(r.window_start),
  lockedUntil: r.locked_until === null ? null : Number(r.locked_until),
});

const maxOrNull = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.max(a, b);

export function consoleRepositories(ex: SqlExecutor): { console: ConsoleRepositories } {
  return {
    console: {
      passwords: {
        async get(userId) {
          const rows = await ex.all<PasswordRow>('SELECT * FROM user_passwords WHERE user_id = $1', [userId]);
          return rows[0] ? toPassword(rows[0]) : null;
        },
        async put(p) {
          await ex.write(
            `INSERT INTO user_passwords (user_id, password_hash, console_role, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash,
                 console_role = excluded.console_role, updated_at = excluded.updated_at`,
            [p.userId, p.passwordHash, p.consoleRole, p.createdAt, p.updatedAt],
          );
        },
        async delete(userId) {
          return (await ex.write('DELETE FROM user_passwords WHERE user_id = $1', [userId])).changes === 1;
        },
      },
      sessions: {
        async insert(s) {
          await ex.write(
            `INSERT INTO console_sessions (id_hash, method, admin_token_id, user_id, address, user_agent,
               created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
            [
              s.idHash,
              s.method,
              s.adminTokenId,
              s.userId,
              s.address,
              s.userAgent,
              s.createdAt,
              s.lastSeenAt,
              s.expiresAt,
            ],
          );
        },
        async get(idHash) {
          const rows = await ex.all<SessionRow>('SELECT * FROM console_sessions WHERE id_hash = $1', [
            idHash,
          ]);
          return rows[0] ? toSession(rows[0]) : null;
        },
        async touch(idHash, at) {
          await ex.write('UPDATE console_sessions SET last_seen_at = $2 WHERE id_hash = $1', [idHash, at]);
        },
        async delete(idHash) {
          return (await ex.write('DELETE FROM console_sessions WHERE id_hash = $1', [idHash])).changes === 1;
        },
        async deleteForUser(userId) {
          return (await ex.write('DELETE FROM console_sessions WHERE user_id = $1', [userId])).changes;
        },
        async deleteExpired(now, idleBefore) {
          return (
            await ex.write('DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at < $2', [
              now,
              idleBefore,
            ])
          ).changes;
        },
      },
      loginThrottle: {
        async get(key) {
          const rows = await ex.all<ThrottleRow>('SELECT * FROM login_throttle WHERE key = $1', [key]);
          return rows[0] ? toThrottle(rows[0]) : null;
        },
        async recordFailure(key, now, windowStartedBefore) {
          // INVARIANT: one statement, so concurrent failures on any node are all counted
          const { rows } = await ex.write<ThrottleRow>(
            `INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, NULL)
               ON CONFLICT (key) DO UPDATE SET
                 failures = CASE WHEN login_throttle.window_start <= $3 THEN 1 ELSE login_throttle.failures + 1 END,
                 window_start = CASE WHEN login_throttle.window_start <= $3 THEN $2 ELSE login_throttle.window_start END
               RETURNING key, failures, window_start, locked_until`,
            [key, now, windowStartedBefore],
          );
          const row = rows[0];
          if (!row) throw new Error('INVARIANT: upsert returned no row');
          return toThrottle(row);
        },
        async lock(key, until) {
          await ex.write('UPDATE login_throttle SET locked_until = $2 WHERE key = $1', [key, until]);
        },
        async clear(key) {
          await ex.write('DELETE FROM login_throttle WHERE key = $1', [key]);
        },
        async deleteStale(now, windowStartedBefore) {
          return (
            await ex.write(
              'DELETE FROM login_throttle WHERE window_start < $2 AND (locked_until IS NULL OR locked_until <= $1)',
              [now, windowStartedBefore],
            )
          ).changes;
        },
      },
      dashboard: {
        async agentCounts(ownerId) {
          const params: SqlValue[] = ownerId === null ? [] : [ownerId];
          const rows = await ex.all<{ status: string; environment: string; risk_level: string; n: number }>(
            `SELECT status, environment, risk_level, COUNT(*) AS n FROM agents
               ${ownerId === null ? '' : 'WHERE owner_id = $1'}
               GROUP BY status, environment, risk_level`,
            params,
          );
          return rows.map((r) => ({
            status: r.status,
            environment: r.environment,
            riskLevel: r.risk_level,
            count: Number(r.n),
          }));
        },
        async activity(from, bucketMs, actions) {
          if (actions.length === 0) return [];
          const list = actions.map((_, i) => `$${i + 3}`).join(', ');
          const rows = await ex.all<{ bucket: number; action: string; outcome: string; n: number }>(
            `SELECT CAST((at - $1) / $2 AS INTEGER) AS bucket, action, outcome, COUNT(*) AS n
               FROM audit_events WHERE at >= $1 AND action IN (${list})
               GROUP BY 1, 2, 3`,
            [from, bucketMs, ...actions],
          );
          return rows.map((r) => ({
            bucket: Number(r.bucket),
            action: r.action,
            outcome: r.outcome,
            count: Number(r.n),
          }));
        },
        async expiring(until, ownerId, limit) {
          const rows = await ex.all<{ id: string }>(
            `SELECT id FROM agents WHERE status = 'active' AND expires_at < $1
               ${ownerId === null ? '' : 'AND owner_id = $3'} ORDER BY expires_at, id LIMIT $2`,
            ownerId === null ? [until, limit] : [until, limit, ownerId],
          );
          return rows.map((r) => r.id);
        },
        async agentActivity(ownerId) {
          // Each subquery is an index range read (actor_id, seq) / (target_id, seq).
          const rows = await ex.all<{
            id: string;
            name: string;
            email: string;
            environment: string;
            created_at: number;
            last_actor: number | null;
            last_decision: number | null;
          }>(
            `SELECT a.id, a.name, u.email, a.environment, a.created_at,
               (SELECT MAX(e.at) FROM audit_events e WHERE e.actor_id = a.id) AS last_actor,
               (SELECT MAX(e.at) FROM audit_events e
                  WHERE e.target_id = a.id AND e.action = 'policy.decision') AS last_decision
             FROM agents a JOIN users u ON u.id = a.owner_id
             WHERE a.status = 'active'${ownerId === null ? '' : ' AND a.owner_id = $1'}`,
            ownerId === null ? [] : [ownerId],
          );
          return rows.map((r) => ({
            id: r.id,
            name: r.name,
            ownerEmail: r.email,
            environment: r.environment,
            createdAt: Number(r.created_at),
            lastActivityAt: maxOrNull(
              r.last_actor === null ? null : Number(r.last_actor),
              r.last_decision === null ? null : Number(r.last_decision),
            ),
          }));
        },
      },
    },
  };
}
