import type { ChainHead } from './audit-chain.js';
import type { BatchUnit, UnitOutcome } from './batch.js';
import type { Change, ChangeFeed } from './change-feed.js';
import type {
  AdminTokenRecord,
  AgentKeyRecord,
  AgentRecord,
  AgentStatus,
  AgentStatusChange,
  AuditEventInput,
  AuditEventRecord,
  ConsentRecord,
  FederatedIssuerRecord,
  IdentityProviderRecord,
  IssuedTokenRecord,
  Page,
  SecretRecord,
  SigningKeyRecord,
  SigningKeyState,
  TeamRecord,
  UserRecord,
  UserStatus,
} from './records.js';
import type { ApprovalRepositories } from './sql-approval-repositories.js';
import type { ConsoleRepositories } from './sql-console-repositories.js';
import type { GatewayRepositories } from './sql-gateway-repositories.js';
import type { MonitorRepositories } from './sql-monitor-repositories.js';
import type { PolicyRepositories } from './sql-policy-repositories.js';

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
  /** Exact action, or every action with a prefix when it ends in `*` (`agent.*`). */
  readonly action?: string | undefined;
  /** Events at or after this time (epoch ms). */
  readonly from?: number | undefined;
  /** Events before this time (epoch ms). */
  readonly to?: number | undefined;
  /** Events an agent did or that were done to it. */
  readonly agentId?: string | undefined;
  /** Events by a user's token, by an agent acting for the user, or done to the user. */
  readonly userId?: string | undefined;
  readonly actorId?: string | undefined;
  readonly actorType?: string | undefined;
  readonly outcome?: AuditEventRecord['outcome'] | undefined;
  /** Case-insensitive substring of the action, actor, target, reason, request id or details. */
  readonly q?: string | undefined;
  /** Only events with a greater sequence number (for following the log). */
  readonly afterSeq?: number | undefined;
  /** `asc` (default): oldest first; `desc`: newest first. */
  readonly order?: 'asc' | 'desc' | undefined;
}

export type AgentPatch = Partial<
  Pick<
    AgentRecord,
    | 'name'
    | 'ownerId'
    | 'team'
    | 'purpose'
    | 'environment'
    | 'tags'
    | 'riskLevel'
    | 'expiresAt'
    | 'allowedScopes'
    | 'allowedAudiences'
    | 'requireDpop'
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
export interface Repositories extends GatewayRepositories, MonitorRepositories, ApprovalRepositories {
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
    /**
     * `lock` takes a row lock until the transaction ends (PostgreSQL; SQLite
     * transactions are serial). `tags: false` skips reading tags (returned as `{}`).
     */
    get(id: string, options?: { lock?: boolean; tags?: boolean }): Promise<AgentRecord | null>;
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
  readonly auditLog: {
    head(): Promise<ChainHead>;
    /** False when a checkpoint of that size exists already (another node made it). */
    insertCheckpoint(c: Omit<AuditCheckpointRecord, 'sunkAt'>): Promise<boolean>;
    latestCheckpoint(): Promise<AuditCheckpointRecord | null>;
    listCheckpoints(afterSize?: number): Promise<readonly AuditCheckpointRecord[]>;
    unsunkCheckpoints(): Promise<readonly AuditCheckpointRecord[]>;
    markSunk(size: number, at: number): Promise<void>;
    getKey(name: string): Promise<AuditKeyRecord | null>;
    /** False when a key of that name exists already. */
    insertKey(key: AuditKeyRecord): Promise<boolean>;
    keyNames(): Promise<readonly string[]>;
    /** Replaces the sealed private key (master-key re-wrap). */
    resealKey(name: string, privateKey: string): Promise<void>;
    /** The lowest sequence number still stored (null for an empty log). */
    firstSeq(): Promise<number | null>;
    /** Deletes every event up to and including `seq` (retention); returns how many. */
    deleteThrough(seq: number): Promise<number>;
    listSinks(): Promise<readonly AuditSinkRecord[]>;
    /** Creates the sink's row at `cursor` unless it exists. */
    ensureSink(name: string, cursor: number, at: number): Promise<void>;
    /** Takes (or renews) the sink's lease for `owner` unless another owner holds it until after `now`. */
    leaseSink(name: string, owner: string, until: number, now: number): Promise<AuditSinkRecord | null>;
    releaseSink(name: string, owner: string): Promise<void>;
    /** Compare-and-set of the cursor, by the lease holder; false when either moved. */
    advanceSink(name: string, owner: string, from: number, to: number, at: number): Promise<boolean>;
    sinkFailed(name: string, owner: string, error: string, at: number): Promise<void>;
  };
  readonly identityProviders: {
    /** Throws {@link UniqueViolation} when the issuer is already registered. */
    insert(idp: IdentityProviderRecord): Promise<void>;
    list(): Promise<readonly IdentityProviderRecord[]>;
    getByIssuer(issuer: string): Promise<IdentityProviderRecord | null>;
    delete(id: string): Promise<boolean>;
    /** The user an IdP subject maps to, or null. */
    userFor(providerId: string, subject: string): Promise<string | null>;
    /** Records which user an IdP subject is (insert or replace). */
    link(providerId: string, subject: string, userId: string): Promise<void>;
  };
  readonly consents: {
    insert(consent: ConsentRecord): Promise<void>;
    get(id: string): Promise<ConsentRecord | null>;
    /** The person's consents for the agent that are neither revoked nor expired at `at`, newest first. */
    active(userId: string, agentId: string, at: number): Promise<readonly ConsentRecord[]>;
    list(filter: { userId?: string; agentId?: string }): Promise<readonly ConsentRecord[]>;
    /** Compare-and-set: null when unknown or already revoked. */
    revoke(id: string, at: number): Promise<ConsentRecord | null>;
  };
  readonly secrets: {
    get(name: string, options?: { lock?: boolean }): Promise<SecretRecord | null>;
    /** Inserts or replaces the entry named `record.name`. */
    put(record: SecretRecord): Promise<void>;
    list(): Promise<readonly SecretRecord[]>;
    delete(name: string): Promise<boolean>;
  };
  readonly signingKeys: {
    insert(key: SigningKeyRecord): Promise<void>;
    /** Replaces the sealed private key (master-key re-wrap). */
    reseal(kid: string, privateKey: string): Promise<void>;
    /** Every key still on record, oldest first. */
    list(): Promise<readonly SigningKeyRecord[]>;
    /** Compare-and-set of the state (with the timestamps that go with it); false when `kid` is not in `from`. */
    setState(
      kid: string,
      from: SigningKeyState,
      to: SigningKeyState,
      fields: { activatedAt?: number; retiredAt?: number; publishUntil?: number },
    ): Promise<boolean>;
    /** Deletes retired keys whose `publishUntil` has passed; returns their kids. */
    deleteExpired(now: number): Promise<readonly string[]>;
  };
  readonly agentKeys: {
    /** Throws {@link UniqueViolation} when the agent already has a key with this kid. */
    insert(key: AgentKeyRecord): Promise<void>;
    get(agentId: string, kid: string): Promise<AgentKeyRecord | null>;
    list(agentId: string): Promise<readonly AgentKeyRecord[]>;
    /** Compare-and-set: null when unknown or already revoked. */
    revoke(agentId: string, kid: string, at: number): Promise<AgentKeyRecord | null>;
  };
  readonly issuedTokens: {
    insert(token: IssuedTokenRecord): Promise<void>;
    get(jti: string): Promise<IssuedTokenRecord | null>;
    /** Compare-and-set: false when unknown or already revoked. */
    revoke(jti: string, at: number): Promise<boolean>;
    /** Revokes every unexpired token derived from a consent; returns how many. */
    revokeForConsent(consentId: string, at: number): Promise<number>;
    /** Revokes every unexpired token of the agent (optionally only those obtained with `credential`); returns how many. */
    revokeForAgent(agentId: string, at: number, credential?: string): Promise<number>;
    deleteExpired(now: number): Promise<number>;
  };
  readonly usedJtis: {
    /**
     * Records a single-use identifier. True the first time; false when it was
     * already used (a replay). Never throws on a duplicate, so it is safe inside
     * a shared transaction. Holds across processes sharing the database.
     */
    claim(scope: string, jti: string, expiresAt: number): Promise<boolean>;
    deleteExpired(now: number): Promise<number>;
  };
  /** The policy engine's tables (see `sql-policy-repositories.ts`). */
  readonly policy: PolicyRepositories;
  /** Console sign-in and dashboard reads (see `sql-console-repositories.ts`). */
  readonly console: ConsoleRepositories;
  readonly federatedIssuers: {
    /** Throws {@link UniqueViolation} when the issuer URL is already registered. */
    insert(issuer: FederatedIssuerRecord): Promise<void>;
    list(): Promise<readonly FederatedIssuerRecord[]>;
    getByIssuer(issuer: string): Promise<FederatedIssuerRecord | null>;
    delete(id: string): Promise<boolean>;
  };
}

/** A signed checkpoint over the audit chain. */
export interface AuditCheckpointRecord {
  readonly size: number;
  readonly hash: string;
  readonly at: number;
  /** The C2SP signed note. */
  readonly note: string;
  readonly sunkAt: number | null;
}

/** A live-forwarding sink's position: every event up to `cursor` was acknowledged by the receiver. */
export interface AuditSinkRecord {
  readonly name: string;
  readonly cursor: number;
  readonly leaseOwner: string | null;
  readonly leaseUntil: number | null;
  readonly lastError: string | null;
  readonly updatedAt: number;
}

/** The audit signing key (Ed25519); the private half sealed with the master key. */
export interface AuditKeyRecord {
  readonly name: string;
  /** base64 of the raw 32-byte public key */
  readonly publicKey: string;
  readonly privateKey: string;
  readonly createdAt: number;
}

/** The repositories inside a transaction, plus savepoints to isolate one unit of work. */
export interface TxRepositories extends Repositories {
  /**
   * Announces a change to caches in every process, exactly when (and only if)
   * this transaction commits.
   */
  notify(change: Change): Promise<void>;
  /** Runs `fn` in a savepoint: when it throws, only its own writes are undone and the transaction goes on. */
  savepoint<T>(fn: () => Promise<T>): Promise<T>;
}

export interface MigrationStatus {
  readonly applied: number;
  readonly latest: number;
}

export interface Store extends Repositories {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: TxRepositories) => Promise<T>): Promise<T>;
  /** Committed changes, for caches (see `change-feed.ts`). */
  readonly changes: ChangeFeed;
  /** Group-commit writes: one durable commit for many units (see `batch.ts`). */
  writeBatch(units: readonly BatchUnit[]): Promise<readonly UnitOutcome[]>;
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  migrationStatus(): Promise<MigrationStatus>;
  close(): Promise<void>;
}
