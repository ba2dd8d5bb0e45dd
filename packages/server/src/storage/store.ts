import type {
  AdminTokenRecord,
  AgentRecord,
  AgentStatus,
  AgentStatusChange,
  AuditEventInput,
  AuditEventRecord,
  Page,
  TeamRecord,
  UserRecord,
  UserStatus,
} from './records.js';

/** Raised by a store when a write would break a uniqueness rule. */
export class UniqueViolation extends Error {
  override readonly name = 'UniqueViolation';
}

export interface PageRequest {
  /** Opaque cursor from a previous page's `nextCursor`. */
  readonly cursor?: string | undefined;
  /** 1..500; callers validate it. */
  readonly limit: number;
}

export interface UserFilter extends PageRequest {
  readonly status?: UserStatus | undefined;
  readonly q?: string | undefined;
}

export interface AgentFilter extends PageRequest {
  readonly ownerId?: string | undefined;
  readonly team?: string | undefined;
  readonly status?: AgentStatus | undefined;
  readonly environment?: string | undefined;
  /** Every pair must match (AND). */
  readonly tags?: Readonly<Record<string, string>> | undefined;
  /** Case-insensitive substring of id, name or purpose. */
  readonly q?: string | undefined;
}

export interface AuditFilter extends PageRequest {
  readonly targetId?: string | undefined;
  readonly action?: string | undefined;
}

export type AgentPatch = Partial<
  Pick<
    AgentRecord,
    'name' | 'ownerId' | 'team' | 'purpose' | 'environment' | 'tags' | 'riskLevel' | 'expiresAt'
  >
>;
export type UserPatch = Partial<Pick<UserRecord, 'name' | 'managerId' | 'email'>>;

/**
 * Everything Custos keeps, behind one interface with two adapters (SQLite and
 * PostgreSQL) that pass the same contract suite (`store.contract.test.ts`).
 *
 * Concurrency guarantees, on both adapters:
 * - `transaction` is atomic and isolated: either every write in it is kept or none.
 * - Unique rules (user email, team name, live agent name per environment, token
 *   hash) hold under concurrent inserts: exactly one writer wins, the others get
 *   {@link UniqueViolation}.
 * - `agents.transition` is a compare-and-set on the status: of concurrent
 *   transitions from the same status, exactly one returns the record; the others
 *   return null.
 */
export interface Repositories {
  readonly users: {
    insert(user: UserRecord): Promise<void>;
    get(id: string): Promise<UserRecord | null>;
    getByEmail(email: string): Promise<UserRecord | null>;
    list(filter: UserFilter): Promise<Page<UserRecord>>;
    update(id: string, patch: UserPatch, at: number): Promise<UserRecord | null>;
    /** Compare-and-set of the status; null when the user is not in `from`. */
    setStatus(id: string, from: UserStatus, to: UserStatus, at: number): Promise<UserRecord | null>;
  };
  readonly teams: {
    insert(team: TeamRecord): Promise<void>;
    get(name: string): Promise<TeamRecord | null>;
    list(request: PageRequest): Promise<Page<TeamRecord>>;
  };
  readonly agents: {
    insert(agent: Omit<AgentRecord, 'ownerEmail'>): Promise<void>;
    /** `lock` takes a row lock until the transaction ends (PostgreSQL; SQLite transactions are serial). */
    get(id: string, options?: { lock?: boolean }): Promise<AgentRecord | null>;
    list(filter: AgentFilter): Promise<Page<AgentRecord>>;
    update(id: string, patch: AgentPatch, at: number): Promise<AgentRecord | null>;
    transition(
      id: string,
      from: readonly AgentStatus[],
      to: AgentStatus,
      reason: string,
      at: number,
    ): Promise<AgentRecord | null>;
    addStatusChange(change: AgentStatusChange): Promise<void>;
    statusHistory(id: string): Promise<readonly AgentStatusChange[]>;
  };
  readonly adminTokens: {
    insert(token: AdminTokenRecord): Promise<void>;
    getByHash(tokenHash: string): Promise<AdminTokenRecord | null>;
    get(id: string): Promise<AdminTokenRecord | null>;
    list(request: PageRequest): Promise<Page<AdminTokenRecord>>;
    count(): Promise<number>;
    /** Compare-and-set: null when already revoked or unknown. */
    revoke(id: string, at: number): Promise<AdminTokenRecord | null>;
    touch(id: string, at: number): Promise<void>;
  };
  readonly audit: {
    append(event: AuditEventInput): Promise<number>;
    list(filter: AuditFilter): Promise<Page<AuditEventRecord>>;
  };
}

export interface MigrationStatus {
  readonly applied: number;
  readonly latest: number;
}

export interface Store extends Repositories {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  migrationStatus(): Promise<MigrationStatus>;
  close(): Promise<void>;
}
