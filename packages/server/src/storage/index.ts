export type { ChainedEvent, ChainHead } from './audit-chain.js';
export { canonicalJson, chainHash, GENESIS_HASH, link } from './audit-chain.js';
export type { BatchUnit, Statement, UnitOutcome } from './batch.js';
export type { Change, ChangeFeed } from './change-feed.js';
export { RESET } from './change-feed.js';
export type {
  ActivityCountRow,
  AgentActivityRow,
  AgentCountRow,
  ConsoleRole,
  ConsoleSessionRecord,
  LoginThrottleRecord,
  UserPasswordRecord,
} from './console-records.js';
export type { GroupCommitter, SubmitOptions } from './group-commit.js';
export { createGroupCommitter } from './group-commit.js';
export type { DatabaseUrl, OpenStoreOptions } from './open-store.js';
export { migrateDatabase, openStore } from './open-store.js';
export type {
  EntityUidRecord,
  GrantRecord,
  PolicyChangeKind,
  PolicyEffect,
  PolicyEntityRecord,
  PolicyMode,
  PolicyRecord,
  PolicyRevisionRecord,
  PolicyVersionRecord,
} from './policy-records.js';
export { RecentEvents } from './recent-events.js';
export type {
  AdminRole,
  AdminTokenRecord,
  AgentKeyRecord,
  AgentRecord,
  AgentStatus,
  AgentStatusChange,
  AuditEventInput,
  AuditEventRecord,
  ConsentRecord,
  FederatedIssuerRecord,
  FederationRule,
  IdentityProviderRecord,
  IssuedTokenRecord,
  Page,
  RiskLevel,
  SecretRecord,
  SigningKeyRecord,
  SigningKeyState,
  TeamRecord,
  UserRecord,
  UserStatus,
} from './records.js';
export type {
  ApprovalFilter,
  ApprovalRecord,
  ApprovalRepositories,
  ApprovalStatus,
} from './sql-approval-repositories.js';
export type { ConsoleRepositories } from './sql-console-repositories.js';
export type { QueryObserver } from './sql-driver.js';
export type { GatewayRepositories, UpstreamKind, UpstreamRecord } from './sql-gateway-repositories.js';
export type {
  DeliveryRecord,
  FindingFilter,
  FindingRecord,
  FindingSeverity,
  FindingStatus,
  MonitorRepositories,
  MonitorStateRecord,
  RestrictionRecord,
  SetKeyRecord,
} from './sql-monitor-repositories.js';
export type { GrantFilter, PolicyRepositories, RecordedDecisionRow } from './sql-policy-repositories.js';
export type { SqliteWriteFault } from './sqlite/write-faults.js';
export { injectSqliteWriteFault } from './sqlite/write-faults.js';
export { auditEventStatement, claimJtiStatement, issuedTokenStatement } from './statements.js';
export type {
  AgentFilter,
  AgentPatch,
  AuditCheckpointRecord,
  AuditFilter,
  AuditKeyRecord,
  AuditSinkRecord,
  MigrationStatus,
  PageRequest,
  Repositories,
  Store,
  TxRepositories,
  UserFilter,
  UserPatch,
} from './store.js';
export { UniqueViolation } from './store.js';
export { StoreUnavailable } from './store-unavailable.js';
