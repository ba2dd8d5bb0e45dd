export type { DatabaseUrl, OpenStoreOptions } from './open-store.js';
export { migrateDatabase, openStore } from './open-store.js';
export type {
  AdminRole,
  AdminTokenRecord,
  AgentRecord,
  AgentStatus,
  AgentStatusChange,
  AuditEventInput,
  AuditEventRecord,
  Page,
  RiskLevel,
  TeamRecord,
  UserRecord,
  UserStatus,
} from './records.js';
export type { QueryObserver } from './sql-driver.js';
export type {
  AgentFilter,
  AgentPatch,
  AuditFilter,
  MigrationStatus,
  PageRequest,
  Repositories,
  Store,
  UserFilter,
  UserPatch,
} from './store.js';
export { UniqueViolation } from './store.js';
