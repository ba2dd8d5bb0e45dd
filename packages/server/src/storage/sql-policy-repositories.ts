import { CustosError } from '../core/index.js';
import { decodeCursor, toPage } from './pagination.js';
import type {
  EntityUidRecord,
  GrantRecord,
  PolicyEntityRecord,
  PolicyMode,
  PolicyRecord,
  PolicyRevisionRecord,
  PolicyVersionRecord,
} from './policy-records.js';
import type { Page } from './records.js';
import type { SqlExecutor, SqlValue } from './sql-driver.js';

export interface GrantFilter {
  readonly principalType?: 'Agent' | 'Team' | 'User' | undefined;
  readonly principalId?: string | undefined;
  /** Only grants that are neither revoked nor past their end at this time. */
  readonly liveAt?: number | undefined;
  readonly cursor?: string | undefined;
  readonly limit: number;
}

/** A decision as the audit log recorded it, for what-if analysis. */
export interface RecordedDecisionRow {
  readonly seq: number;
  readonly at: number;
  readonly action: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/**
 * The policy engine's tables. Writers of policies, grants or the schema call
 * `state.advance()` first in their transaction: it is a row lock on PostgreSQL
 * (SQLite transactions are serial), so they serialise and each gets the next version.
 */
export interface PolicyRepositories {
  readonly state: {
    /** The current version (0 before any change). */
    version(): Promise<number>;
    /**
     * The version and whether a shadow set is active (it may hold no policies).
     * `lock` holds the row until the transaction ends (PostgreSQL), serialising writers.
     */
    read(options?: { lock?: boolean }): Promise<{ version: number; shadow: boolean }>;
    /** Takes the next version; call first in the transaction that makes the change. */
    advance(): Promise<number>;
    setShadow(active: boolean): Promise<void>;
  };
  readonly versions: {
    insert(version: PolicyVersionRecord): Promise<void>;
    /** Newest first. */
    list(request: { cursor?: string | undefined; limit: number }): Promise<Page<PolicyVersionRecord>>;
  };
  readonly policies: {
    list(mode: PolicyMode): Promise<readonly PolicyRecord[]>;
    /** Both sets, for loading the engine. */
    listAll(): Promise<readonly PolicyRecord[]>;
    upsert(policy: PolicyRecord): Promise<void>;
    delete(mode: PolicyMode, id: string): Promise<void>;
    addRevision(revision: PolicyRevisionRecord): Promise<void>;
    /** Every revision of one policy in both sets, oldest first. */
    revisions(id: string): Promise<readonly PolicyRevisionRecord[]>;
    /** The set `mode` as it was at `version`: the latest revision of each policy, if not a removal. */
    at(mode: PolicyMode, version: number): Promise<readonly { id: string; text: string }[]>;
  };
  readonly schemas: {
    /** The newest admin schema extension, or null when none was ever applied. */
    current(): Promise<{ version: number; text: string } | null>;
    insert(version: number, text: string): Promise<void>;
  };
  readonly grants: {
    insert(grant: GrantRecord): Promise<void>;
    get(id: string): Promise<GrantRecord | null>;
    list(filter: GrantFilter): Promise<Page<GrantRecord>>;
    /** Every grant not revoked (ended ones included: the engine skips those by time). */
    live(): Promise<readonly GrantRecord[]>;
    /** Compare-and-set: null when unknown or already revoked. */
    revoke(
      id: string,
      fields: { at: number; by: string; reason: string; version: number },
    ): Promise<GrantRecord | null>;
  };
  readonly entities: {
    upsert(entity: PolicyEntityRecord): Promise<void>;
    get(type: string, id: string): Promise<PolicyEntityRecord | null>;
    list(filter: {
      type?: string | undefined;
      cursor?: string | undefined;
      limit: number;
    }): Promise<Page<PolicyEntityRecord>>;
    /** The uids of every stored entity of `type` (for AuthZEN searches), up to `limit`. */
    idsOfType(type: string, limit: number): Promise<readonly string[]>;
    delete(type: string, id: string): Promise<boolean>;
  };
  readonly decisions: {
    /** The last `limit` audit events that recorded policy decisions, newest first. */
    recent(limit: number): Promise<readonly RecordedDecisionRow[]>;
  };
}

const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;
const num = (v: number | null): number | null => (v === null ? null : Number(v));

type PolicyRow = {
  mode: PolicyMode;
  id: string;
  text: string;
  effect: PolicyRecord['effect'];
  principal_scope: string;
  resource_scope: string;
  version: number;
};
const toPolicy = (r: PolicyRow): PolicyRecord => ({
  mode: r.mode,
  id: r.id,
  text: r.text,
  effect: r.effect,
  principalScope: r.principal_scope,
  resourceScope: r.resource_scope,
  version: Number(r.version),
});

type VersionRow = {
  version: number;
  at: number;
  actor_type: string;
  actor_id: string;
  kind: PolicyVersionRecord['kind'];
  mode: PolicyMode | null;
  reason: string;
  summary: string;
};
const toVersion = (r: VersionRow): PolicyVersionRecord => ({
  version: Number(r.version),
  at: Number(r.at),
  actorType: r.actor_type,
  actorId: r.actor_id,
  kind: r.kind,
  mode: r.mode,
  reason: r.reason,
  summary: json(r.summary),
});

type GrantRow = {
  id: string;
  principal_type: GrantRecord['principalType'];
  principal_id: string;
  action: string;
  resource_type: string;
  resource_id: string;
  resource_scope: GrantRecord['resourceScope'];
  condition: string | null;
  expires_at: number | null;
  created_at: number;
  created_by: string;
  reason: string;
  version: number;
  revoked_at: number | null;
  revoked_by: string | null;
  revoke_reason: string | null;
  revoked_version: number | null;
};
const toGrant = (r: GrantRow): GrantRecord => ({
  id: r.id,
  principalType: r.principal_type,
  principalId: r.principal_id,
  action: r.action,
  resourceType: r.resource_type,
  resourceId: r.resource_id,
  resourceScope: r.resource_scope,
  condition: r.condition,
  expiresAt: num(r.expires_at),
  createdAt: Number(r.created_at),
  createdBy: r.created_by,
  reason: r.reason,
  version: Number(r.version),
  revokedAt: num(r.revoked_at),
  revokedBy: r.revoked_by,
  revokeReason: r.revoke_reason,
  revokedVersion: num(r.revoked_version),
});

type EntityRow = {
  type: string;
  id: string;
  attrs: string;
  parents: string;
  tags: string;
  updated_at: number;
};
const toEntity = (r: EntityRow): PolicyEntityRecord => ({
  type: r.type,
  id: r.id,
  attrs: json(r.attrs),
  parents: JSON.parse(r.parents) as EntityUidRecord[],
  tags: json(r.tags),
  updatedAt: Number(r.updated_at),
});

/** A cursor over a key the caller chose; null for none, throws on a forged one. */
function cursorOf(cursor: string | undefined): string | null {
  if (cursor === undefined) return null;
  const key = decodeCursor(cursor);
  if (key === null) {
    throw new CustosError('validation_failed', `invalid cursor \`${cursor}\``, {
      fields: [{ pointer: '/cursor', detail: 'not a cursor returned by this API' }],
    });
  }
  return key;
}

function entityCursorKey(key: string, cursor: string): [string, string] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(key);
  } catch {
    parsed = null;
  }
  if (Array.isArray(parsed) && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') {
    return [parsed[0], parsed[1]];
  }
  throw new CustosError('validation_failed', `invalid cursor \`${cursor}\``, {
    fields: [{ pointer: '/cursor', detail: 'not a cursor returned by this API' }],
  });
}

/** The policy engine's tables, in the SQL both dialects share. */
export function policyRepositories(ex: SqlExecutor, forUpdate: string): { policy: PolicyRepositories } {
  return {
    policy: {
      state: {
        async version() {
          const rows = await ex.all<{ version: number }>('SELECT version FROM policy_state WHERE id = 1');
          return Number(rows[0]?.version ?? 0);
        },
        async read(options) {
          const rows = await ex.all<{ version: number; shadow: number }>(
            `SELECT version, shadow FROM policy_state WHERE id = 1${options?.lock ? forUpdate : ''}`,
          );
          return { version: Number(rows[0]?.version ?? 0), shadow: Number(rows[0]?.shadow ?? 0) === 1 };
        },
        async setShadow(active) {
          await ex.write('UPDATE policy_state SET shadow = $1 WHERE id = 1', [active ? 1 : 0]);
        },
        async advance() {
          const { rows } = await ex.write<{ version: number }>(
            'UPDATE policy_state SET version = version + 1 WHERE id = 1 RETURNING version',
          );
          const version = rows[0]?.version;
          if (version === undefined)
            throw new Error('INVARIANT: the policy_state row exists (migration 0004)');
          return Number(version);
        },
      },

      versions: {
        async insert(v) {
          await ex.write(
            `INSERT INTO policy_versions (version, at, actor_type, actor_id, kind, mode, reason, summary)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
            [v.version, v.at, v.actorType, v.actorId, v.kind, v.mode, v.reason, JSON.stringify(v.summary)],
          );
        },
        async list(request) {
          const after = cursorOf(request.cursor);
          const params: SqlValue[] = [];
          let where = '';
          if (after !== null) {
            params.push(Number(after));
            where = ' WHERE version < $1';
          }
          params.push(request.limit + 1);
          const rows = await ex.all<VersionRow>(
            `SELECT * FROM policy_versions${where} ORDER BY version DESC LIMIT $${params.length}`,
            params,
          );
          return toPage(rows.map(toVersion), request.limit, (v) => v.version);
        },
      },

      policies: {
        async list(mode) {
          const rows = await ex.all<PolicyRow>('SELECT * FROM policies WHERE mode = $1 ORDER BY id', [mode]);
          return rows.map(toPolicy);
        },
        async listAll() {
          return (await ex.all<PolicyRow>('SELECT * FROM policies ORDER BY mode, id')).map(toPolicy);
        },
        async upsert(p) {
          await ex.write(
            `INSERT INTO policies (mode, id, text, effect, principal_scope, resource_scope, version)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (mode, id) DO UPDATE SET text = $3, effect = $4, principal_scope = $5,
               resource_scope = $6, version = $7`,
            [p.mode, p.id, p.text, p.effect, p.principalScope, p.resourceScope, p.version],
          );
        },
        async delete(mode, id) {
          await ex.write('DELETE FROM policies WHERE mode = $1 AND id = $2', [mode, id]);
        },
        async addRevision(r) {
          await ex.write('INSERT INTO policy_revisions (mode, id, version, text) VALUES ($1, $2, $3, $4)', [
            r.mode,
            r.id,
            r.version,
            r.text,
          ]);
        },
        async revisions(id) {
          const rows = await ex.all<{ mode: PolicyMode; id: string; version: number; text: string | null }>(
            'SELECT * FROM policy_revisions WHERE id = $1 ORDER BY version, mode',
            [id],
          );
          return rows.map((r) => ({ mode: r.mode, id: r.id, version: Number(r.version), text: r.text }));
        },
        async at(mode, version) {
          const rows = await ex.all<{ id: string; text: string | null }>(
            `SELECT r.id, r.text FROM policy_revisions r
               WHERE r.mode = $1 AND r.version = (
                 SELECT MAX(x.version) FROM policy_revisions x WHERE x.mode = r.mode AND x.id = r.id AND x.version <= $2)
               ORDER BY r.id`,
            [mode, version],
          );
          return rows.flatMap((r) => (r.text === null ? [] : [{ id: r.id, text: r.text }]));
        },
      },

      schemas: {
        async current() {
          const rows = await ex.all<{ version: number; text: string }>(
            'SELECT version, text FROM policy_schemas ORDER BY version DESC LIMIT 1',
          );
          const row = rows[0];
          return row ? { version: Number(row.version), text: row.text } : null;
        },
        async insert(version, text) {
          await ex.write('INSERT INTO policy_schemas (version, text) VALUES ($1, $2)', [version, text]);
        },
      },

      grants: {
        async insert(g) {
          await ex.write(
            `INSERT INTO policy_grants (id, principal_type, principal_id, action, resource_type, resource_id,
               resource_scope, condition, expires_at, created_at, created_by, reason, version)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
            [
              g.id,
              g.principalType,
              g.principalId,
              g.action,
              g.resourceType,
              g.resourceId,
              g.resourceScope,
              g.condition,
              g.expiresAt,
              g.createdAt,
              g.createdBy,
              g.reason,
              g.version,
            ],
          );
        },
        async get(id) {
          const rows = await ex.all<GrantRow>('SELECT * FROM policy_grants WHERE id = $1', [id]);
          return rows[0] ? toGrant(rows[0]) : null;
        },
        async list(filter) {
          const clauses: string[] = [];
          const params: SqlValue[] = [];
          const add = (clause: string, ...values: SqlValue[]) => {
            clauses.push(clause.replace(/\?/g, () => `$${params.push(values.shift() ?? null)}`));
          };
          const after = cursorOf(filter.cursor);
          if (after !== null) add('id > ?', after);
          if (filter.principalType) add('principal_type = ?', filter.principalType);
          if (filter.principalId) add('principal_id = ?', filter.principalId);
          if (filter.liveAt !== undefined)
            add('revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)', filter.liveAt);
          params.push(filter.limit + 1);
          const where = clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '';
          const rows = await ex.all<GrantRow>(
            `SELECT * FROM policy_grants${where} ORDER BY id LIMIT $${params.length}`,
            params,
          );
          return toPage(rows.map(toGrant), filter.limit, (g) => g.id);
        },
        async live() {
          const rows = await ex.all<GrantRow>(
            'SELECT * FROM policy_grants WHERE revoked_at IS NULL ORDER BY id',
          );
          return rows.map(toGrant);
        },
        async revoke(id, f) {
          const { rows } = await ex.write<GrantRow>(
            `UPDATE policy_grants SET revoked_at = $1, revoked_by = $2, revoke_reason = $3, revoked_version = $4
               WHERE id = $5 AND revoked_at IS NULL RETURNING *`,
            [f.at, f.by, f.reason, f.version, id],
          );
          return rows[0] ? toGrant(rows[0]) : null;
        },
      },

      entities: {
        async upsert(e) {
          await ex.write(
            `INSERT INTO policy_entities (type, id, attrs, parents, tags, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (type, id) DO UPDATE SET attrs = $3, parents = $4, tags = $5, updated_at = $6`,
            [
              e.type,
              e.id,
              JSON.stringify(e.attrs),
              JSON.stringify(e.parents),
              JSON.stringify(e.tags),
              e.updatedAt,
            ],
          );
        },
        async get(type, id) {
          const rows = await ex.all<EntityRow>('SELECT * FROM policy_entities WHERE type = $1 AND id = $2', [
            type,
            id,
          ]);
          return rows[0] ? toEntity(rows[0]) : null;
        },
        async list(filter) {
          const params: SqlValue[] = [];
          const clauses: string[] = [];
          const after = cursorOf(filter.cursor);
          if (after !== null) {
            const [type, id] = entityCursorKey(after, filter.cursor ?? '');
            params.push(type, type, id);
            clauses.push('(type > $1 OR (type = $2 AND id > $3))');
          }
          if (filter.type !== undefined) {
            params.push(filter.type);
            clauses.push(`type = $${params.length}`);
          }
          params.push(filter.limit + 1);
          const where = clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '';
          const rows = await ex.all<EntityRow>(
            `SELECT * FROM policy_entities${where} ORDER BY type, id LIMIT $${params.length}`,
            params,
          );
          const page = toPage(rows.map(toEntity), filter.limit, (e) => JSON.stringify([e.type, e.id]));
          return page;
        },
        async idsOfType(type, limit) {
          const rows = await ex.all<{ id: string }>(
            'SELECT id FROM policy_entities WHERE type = $1 ORDER BY id LIMIT $2',
            [type, limit],
          );
          return rows.map((r) => r.id);
        },
        async delete(type, id) {
          return (
            (await ex.write('DELETE FROM policy_entities WHERE type = $1 AND id = $2', [type, id]))
              .changes === 1
          );
        },
      },

      decisions: {
        async recent(limit) {
          const rows = await ex.all<{ seq: number; at: number; action: string; details: string }>(
            `SELECT seq, at, action, details FROM audit_events
               WHERE action IN ('policy.decision', 'token.issue') ORDER BY seq DESC LIMIT $1`,
            [limit],
          );
          return rows.map((r) => ({
            seq: Number(r.seq),
            at: Number(r.at),
            action: r.action,
            details: json(r.details),
          }));
        },
      },
    },
  };
}
