import { CustosError, newId } from '../core/index.js';
import { link } from './audit-chain.js';
import { decodeCursor, likePattern, toPage } from './pagination.js';
import type {
  AdminTokenRecord,
  AgentRecord,
  AgentStatusChange,
  AuditEventRecord,
  TeamRecord,
  UserRecord,
} from './records.js';
import { approvalRepositories } from './sql-approval-repositories.js';
import { auditLogRepositories } from './sql-audit-repositories.js';
import { consoleRepositories } from './sql-console-repositories.js';
import { delegationRepositories } from './sql-delegation-repositories.js';
import type { SqlExecutor, SqlValue } from './sql-driver.js';
import { gatewayRepositories } from './sql-gateway-repositories.js';
import { monitorRepositories } from './sql-monitor-repositories.js';
import { oauthRepositories } from './sql-oauth-repositories.js';
import { policyRepositories } from './sql-policy-repositories.js';
import { secretRepositories } from './sql-secret-repositories.js';
import { chainedEventParams, SQL, selectAuditHead, storableEvent } from './statements.js';
import type { AuditFilter, PageRequest, Repositories } from './store.js';

/** Collects a WHERE clause and its `$n` parameters. */
class Where {
  readonly params: SqlValue[] = [];
  private readonly clauses: string[] = [];
  /** Adds a condition; `?` marks in it become the next `$n` placeholders. */
  add(condition: string, ...values: SqlValue[]): this {
    this.clauses.push(condition.replace(/\?/g, () => `$${this.params.push(values.shift() ?? null)}`));
    return this;
  }
  /** Binds one value and returns its placeholder. */
  bind(value: SqlValue): string {
    return `$${this.params.push(value)}`;
  }
  toString(): string {
    return this.clauses.length ? ` WHERE ${this.clauses.join(' AND ')}` : '';
  }
}

function cursorKey(request: PageRequest): string | undefined {
  if (request.cursor === undefined) return undefined;
  const key = decodeCursor(request.cursor);
  if (key === null) {
    throw new CustosError('validation_failed', `invalid cursor \`${request.cursor}\``, {
      fields: [{ pointer: '/cursor', detail: 'not a cursor returned by this API' }],
    });
  }
  return key;
}

type UserRow = {
  id: string;
  email: string;
  name: string;
  status: UserRecord['status'];
  manager_id: string | null;
  created_at: number;
  updated_at: number;
};
const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  email: r.email,
  name: r.name,
  status: r.status,
  managerId: r.manager_id,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

type TeamRow = { name: string; description: string; created_at: number; updated_at: number };
const toTeam = (r: TeamRow): TeamRecord => ({
  name: r.name,
  description: r.description,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

type AgentRow = {
  id: string;
  name: string;
  owner_id: string;
  owner_email: string;
  team: string | null;
  purpose: string;
  environment: string;
  risk_level: AgentRecord['riskLevel'];
  status: AgentRecord['status'];
  status_reason: string | null;
  expires_at: number;
  allowed_scopes: string;
  allowed_audiences: string;
  require_dpop: number;
  created_at: number;
  updated_at: number;
};
const toAgent = (r: AgentRow, tags: Record<string, string>): AgentRecord => ({
  id: r.id,
  name: r.name,
  ownerId: r.owner_id,
  ownerEmail: r.owner_email,
  team: r.team,
  purpose: r.purpose,
  environment: r.environment,
  tags,
  riskLevel: r.risk_level,
  status: r.status,
  statusReason: r.status_reason,
  expiresAt: Number(r.expires_at),
  allowedScopes: JSON.parse(r.allowed_scopes) as string[],
  allowedAudiences: JSON.parse(r.allowed_audiences) as string[],
  requireDpop: Number(r.require_dpop) === 1,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

type TokenRow = {
  id: string;
  name: string;
  token_hash: string;
  role: AdminTokenRecord['role'];
  user_id: string | null;
  created_by: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
};
const toToken = (r: TokenRow): AdminTokenRecord => ({
  id: r.id,
  name: r.name,
  tokenHash: r.token_hash,
  role: r.role,
  userId: r.user_id,
  createdBy: r.created_by,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
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
const toAudit = (r: AuditRow): AuditEventRecord => ({
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

/** The WHERE conditions of an audit query (everything but the cursor). */
function auditConditions(where: Where, f: AuditFilter): void {
  if (f.afterSeq !== undefined) where.add('seq > ?', f.afterSeq);
  if (f.from !== undefined) where.add('at >= ?', f.from);
  if (f.to !== undefined) where.add('at < ?', f.to);
  if (f.targetId) where.add('target_id = ?', f.targetId);
  if (f.action?.endsWith('*')) {
    where.add("action LIKE ? ESCAPE '\\'", `${f.action.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  } else if (f.action) where.add('action = ?', f.action);
  if (f.agentId)
    where.add("(actor_id = ? OR (target_type = 'agent' AND target_id = ?))", f.agentId, f.agentId);
  if (f.userId) where.add("(user_id = ? OR (target_type = 'user' AND target_id = ?))", f.userId, f.userId);
  if (f.actorId) where.add('actor_id = ?', f.actorId);
  if (f.actorType) where.add('actor_type = ?', f.actorType);
  if (f.outcome) where.add('outcome = ?', f.outcome);
  if (f.q) {
    const like = likePattern(f.q);
    where.add(
      `(lower(action) LIKE ? ESCAPE '\\' OR lower(actor_id) LIKE ? ESCAPE '\\'
        OR lower(COALESCE(target_id, '')) LIKE ? ESCAPE '\\' OR lower(COALESCE(reason, '')) LIKE ? ESCAPE '\\'
        OR lower(COALESCE(request_id, '')) LIKE ? ESCAPE '\\' OR lower(details) LIKE ? ESCAPE '\\')`,
      like,
      like,
      like,
      like,
      like,
      like,
    );
  }
}

const AGENT_COLUMNS =
  'id, name, owner_id, team, purpose, environment, risk_level, status, status_reason, expires_at, allowed_scopes, allowed_audiences, require_dpop, created_at, updated_at';
// Agents are read with their owner's email, which every view of an agent shows.
const SELECT_AGENT = `SELECT a.id, a.name, a.owner_id, u.email AS owner_email, a.team, a.purpose, a.environment,
  a.risk_level, a.status, a.status_reason, a.expires_at, a.allowed_scopes, a.allowed_audiences, a.require_dpop,
  a.created_at, a.updated_at
  FROM agents a JOIN users u ON u.id = a.owner_id`;

/**
 * The repositories, written once in the SQL both dialects share, over whatever
 * executor they are given (the pool, or one transaction's connection).
 */
export function sqlRepositories(ex: SqlExecutor, forUpdate: string): Repositories {
  const oauth = oauthRepositories(ex);
  const policy = policyRepositories(ex, forUpdate);
  const auditLog = auditLogRepositories(ex);
  const secrets = secretRepositories(ex, forUpdate);
  const gateway = gatewayRepositories(ex);
  const delegation = delegationRepositories(ex);
  async function tagsOf(ids: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const byAgent = new Map<string, Record<string, string>>(ids.map((id) => [id, {}]));
    if (ids.length === 0) return byAgent;
    const placeholders = ids.map((_, i) => `$${i + 1}`).join(', ');
    const rows = await ex.all<{ agent_id: string; key: string; value: string }>(
      `SELECT agent_id, key, value FROM agent_tags WHERE agent_id IN (${placeholders}) ORDER BY key`,
      ids,
    );
    for (const row of rows) {
      const tags = byAgent.get(row.agent_id);
      if (tags) tags[row.key] = row.value;
    }
    return byAgent;
  }

  async function writeTags(agentId: string, tags: Readonly<Record<string, string>>): Promise<void> {
    await ex.write('DELETE FROM agent_tags WHERE agent_id = $1', [agentId]);
    for (const [key, value] of Object.entries(tags)) {
      await ex.write('INSERT INTO agent_tags (agent_id, key, value) VALUES ($1, $2, $3)', [
        agentId,
        key,
        value,
      ]);
    }
  }

  async function withTags(rows: readonly AgentRow[]): Promise<AgentRecord[]> {
    const tags = await tagsOf(rows.map((r) => r.id));
    return rows.map((r) => toAgent(r, tags.get(r.id) ?? {}));
  }

  async function getAgent(id: string, lock = false, withTagsToo = true): Promise<AgentRecord | null> {
    const rows = await ex.all<AgentRow>(
      `${SELECT_AGENT} WHERE a.id = $1${lock ? forUpdate.replace('UPDATE', 'UPDATE OF a') : ''}`,
      [id],
    );
    if (!withTagsToo) return rows[0] ? toAgent(rows[0], {}) : null;
    return (await withTags(rows))[0] ?? null;
  }

  async function getUser(id: string, lock = false): Promise<UserRecord | null> {
    const rows = await ex.all<UserRow>(`SELECT * FROM users WHERE id = $1${lock ? forUpdate : ''}`, [id]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  return {
    users: {
      async insert(u) {
        await ex.write(
          'INSERT INTO users (id, email, name, status, manager_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [u.id, u.email, u.name, u.status, u.managerId, u.createdAt, u.updatedAt],
        );
      },
      get: (id) => getUser(id),
      async getByEmail(email) {
        const rows = await ex.all<UserRow>('SELECT * FROM users WHERE email = $1', [email.toLowerCase()]);
        return rows[0] ? toUser(rows[0]) : null;
      },
      async list(filter) {
        const where = new Where();
        const after = cursorKey(filter);
        if (after !== undefined) where.add('id > ?', after);
        if (filter.status) where.add('status = ?', filter.status);
        if (filter.q) {
          const like = likePattern(filter.q);
          where.add("(lower(email) LIKE ? ESCAPE '\\' OR lower(name) LIKE ? ESCAPE '\\')", like, like);
        }
        const rows = await ex.all<UserRow>(
          `SELECT * FROM users${where} ORDER BY id LIMIT ${where.bind(filter.limit + 1)}`,
          where.params,
        );
        return toPage(rows.map(toUser), filter.limit, (u) => u.id);
      },
      async update(id, patch, at) {
        const current = await getUser(id, true);
        if (!current) return null;
        const next = { ...current, ...patch };
        await ex.write(
          'UPDATE users SET email = $1, name = $2, manager_id = $3, updated_at = $4 WHERE id = $5',
          [next.email, next.name, next.managerId, at, id],
        );
        return getUser(id);
      },
      async setStatus(id, from, to, at) {
        const { rows } = await ex.write<UserRow>(
          'UPDATE users SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4 RETURNING *',
          [to, at, id, from],
        );
        return rows[0] ? toUser(rows[0]) : null;
      },
    },

    teams: {
      async insert(t) {
        await ex.write(
          'INSERT INTO teams (name, description, created_at, updated_at) VALUES ($1, $2, $3, $4)',
          [t.name, t.description, t.createdAt, t.updatedAt],
        );
      },
      async get(name) {
        const rows = await ex.all<TeamRow>('SELECT * FROM teams WHERE name = $1', [name]);
        return rows[0] ? toTeam(rows[0]) : null;
      },
      async list(request) {
        const where = new Where();
        const after = cursorKey(request);
        if (after !== undefined) where.add('name > ?', after);
        const rows = await ex.all<TeamRow>(
          `SELECT * FROM teams${where} ORDER BY name LIMIT ${where.bind(request.limit + 1)}`,
          where.params,
        );
        return toPage(rows.map(toTeam), request.limit, (t) => t.name);
      },
    },

    agents: {
      async insert(a) {
        await ex.write(
          `INSERT INTO agents (${AGENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
          [
            a.id,
            a.name,
            a.ownerId,
            a.team,
            a.purpose,
            a.environment,
            a.riskLevel,
            a.status,
            a.statusReason,
            a.expiresAt,
            JSON.stringify(a.allowedScopes),
            JSON.stringify(a.allowedAudiences),
            a.requireDpop ? 1 : 0,
            a.createdAt,
            a.updatedAt,
          ],
        );
        await writeTags(a.id, a.tags);
      },
      get: (id, options) => getAgent(id, options?.lock ?? false, options?.tags ?? true),
      async list(filter) {
        const where = new Where();
        const after = cursorKey(filter);
        if (after !== undefined) where.add('a.id > ?', after);
        if (filter.ownerId) where.add('a.owner_id = ?', filter.ownerId);
        if (filter.team) where.add('a.team = ?', filter.team);
        if (filter.status) where.add('a.status = ?', filter.status);
        if (filter.environment) where.add('a.environment = ?', filter.environment);
        for (const [key, value] of Object.entries(filter.tags ?? {})) {
          where.add(
            'EXISTS (SELECT 1 FROM agent_tags t WHERE t.agent_id = a.id AND t.key = ? AND t.value = ?)',
            key,
            value,
          );
        }
        if (filter.q) {
          const like = likePattern(filter.q);
          where.add(
            "(lower(a.id) LIKE ? ESCAPE '\\' OR lower(a.name) LIKE ? ESCAPE '\\' OR lower(a.purpose) LIKE ? ESCAPE '\\')",
            like,
            like,
            like,
          );
        }
        const rows = await ex.all<AgentRow>(
          `${SELECT_AGENT}${where} ORDER BY a.id LIMIT ${where.bind(filter.limit + 1)}`,
          where.params,
        );
        return toPage(await withTags(rows), filter.limit, (a) => a.id);
      },
      async update(id, patch, at) {
        const current = await getAgent(id, true);
        if (!current) return null;
        const next = { ...current, ...patch };
        await ex.write(
          `UPDATE agents SET name = $1, owner_id = $2, team = $3, purpose = $4, environment = $5,
             risk_level = $6, expires_at = $7, updated_at = $8, allowed_scopes = $9, allowed_audiences = $10,
             require_dpop = $11 WHERE id = $12`,
          [
            next.name,
            next.ownerId,
            next.team,
            next.purpose,
            next.environment,
            next.riskLevel,
            next.expiresAt,
            at,
            JSON.stringify(next.allowedScopes),
            JSON.stringify(next.allowedAudiences),
            next.requireDpop ? 1 : 0,
            id,
          ],
        );
        if (patch.tags) await writeTags(id, patch.tags);
        return getAgent(id);
      },
      async transition(id, from, to, reason, at) {
        const placeholders = from.map((_, i) => `$${i + 5}`).join(', ');
        const { rows } = await ex.write<{ id: string }>(
          `UPDATE agents SET status = $1, status_reason = $2, updated_at = $3
             WHERE id = $4 AND status IN (${placeholders}) RETURNING id`,
          [to, reason, at, id, ...from],
        );
        return rows.length === 1 ? getAgent(id) : null;
      },
      async addStatusChange(c) {
        await ex.write(
          'INSERT INTO agent_status_changes (id, agent_id, at, from_status, to_status, reason, actor) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [newId('evt', c.at), c.agentId, c.at, c.fromStatus, c.toStatus, c.reason, c.actor],
        );
      },
      async statusHistory(id) {
        const rows = await ex.all<{
          agent_id: string;
          at: number;
          from_status: AgentStatusChange['fromStatus'];
          to_status: AgentStatusChange['toStatus'];
          reason: string;
          actor: string;
        }>('SELECT * FROM agent_status_changes WHERE agent_id = $1 ORDER BY at, id', [id]);
        return rows.map((r) => ({
          agentId: r.agent_id,
          at: Number(r.at),
          fromStatus: r.from_status,
          toStatus: r.to_status,
          reason: r.reason,
          actor: r.actor,
        }));
      },
    },

    adminTokens: {
      async insert(t) {
        await ex.write(
          `INSERT INTO admin_tokens (id, name, token_hash, role, user_id, created_by, created_at, expires_at, revoked_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [
            t.id,
            t.name,
            t.tokenHash,
            t.role,
            t.userId,
            t.createdBy,
            t.createdAt,
            t.expiresAt,
            t.revokedAt,
            t.lastUsedAt,
          ],
        );
      },
      async getByHash(tokenHash) {
        const rows = await ex.all<TokenRow>('SELECT * FROM admin_tokens WHERE token_hash = $1', [tokenHash]);
        return rows[0] ? toToken(rows[0]) : null;
      },
      async get(id) {
        const rows = await ex.all<TokenRow>('SELECT * FROM admin_tokens WHERE id = $1', [id]);
        return rows[0] ? toToken(rows[0]) : null;
      },
      async list(request) {
        const where = new Where();
        const after = cursorKey(request);
        if (after !== undefined) where.add('id > ?', after);
        const rows = await ex.all<TokenRow>(
          `SELECT * FROM admin_tokens${where} ORDER BY id LIMIT ${where.bind(request.limit + 1)}`,
          where.params,
        );
        return toPage(rows.map(toToken), request.limit, (t) => t.id);
      },
      async count() {
        const rows = await ex.all<{ n: number | string }>('SELECT COUNT(*) AS n FROM admin_tokens');
        return Number(rows[0]?.n ?? 0);
      },
      async revoke(id, at) {
        const { rows } = await ex.write<TokenRow>(
          'UPDATE admin_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING *',
          [at, id],
        );
        return rows[0] ? toToken(rows[0]) : null;
      },
      async touch(id, at) {
        await ex.write('UPDATE admin_tokens SET last_used_at = $1 WHERE id = $2', [at, id]);
      },
    },

    audit: {
      async append(event) {
        const e = storableEvent(event);
        // INVARIANT: reading and advancing the head in this transaction (locked on
        // PostgreSQL, serial on SQLite) makes this the chain's only appender until commit
        const [head] = await ex.all<{ seq: number; hash: string }>(selectAuditHead(forUpdate));
        if (!head) throw new Error('INVARIANT: the audit head row is missing');
        const chained = link({ seq: Number(head.seq), hash: head.hash }, e);
        await ex.write(SQL.appendAuditEvent, chainedEventParams(e, chained));
        await ex.write(SQL.updateAuditHead, [chained.seq, chained.hash]);
        return chained.seq;
      },
      async list(filter) {
        const where = new Where();
        const desc = filter.order === 'desc';
        const after = cursorKey(filter);
        if (after !== undefined) {
          if (!/^\d+$/.test(after))
            throw new CustosError('validation_failed', `invalid cursor \`${filter.cursor}\``);
          where.add(desc ? 'seq < ?' : 'seq > ?', Number(after));
        }
        auditConditions(where, filter);
        const rows = await ex.all<AuditRow>(
          `SELECT * FROM audit_events${where} ORDER BY seq${desc ? ' DESC' : ''} LIMIT ${where.bind(filter.limit + 1)}`,
          where.params,
        );
        return toPage(rows.map(toAudit), filter.limit, (e) => e.seq);
      },
    },
    ...oauth,
    ...policy,
    ...auditLog,
    ...secrets,
    ...consoleRepositories(ex),
    ...gateway,
    ...monitorRepositories(ex),
    ...delegation,
    ...approvalRepositories(ex),
  };
}
