export type { ForwarderSettings } from './audit-forwarder.js';
export { AuditForwarder, signDelivery } from './audit-forwarder.js';
export type { AuditKey } from './audit-key.js';
export { loadAuditKey } from './audit-key.js';
export type { CheckpointSettings } from './checkpointer.js';
export { Checkpointer } from './checkpointer.js';
export type { AuditEventView } from './event-view.js';
export { fromAuditView, parseAuditView, toAuditView } from './event-view.js';
export type { ExportFormat } from './export-formats.js';
export {
  apiActivity,
  CSV_COLUMNS,
  csvField,
  csvHeader,
  EXPORT_FORMATS,
  isAuthorizationEvent,
  OCSF_VERSION,
  toCsvRow,
  toJsonLine,
  toOcsf,
} from './export-formats.js';
export type { PruneResult } from './prune-audit-log.js';
export { pruneAuditLog } from './prune-audit-log.js';
export { readAllEvents } from './read-events.js';
export type { Actor, AuditEntry } from './record-audit-event.js';
export { auditStatement, diffFields, recordAuditEvent, SYSTEM_ACTOR } from './record-audit-event.js';
export type { Checkpoint } from './signed-note.js';
export {
  checkpointText,
  openCheckpoint,
  parseVerifierKey,
  signCheckpoint,
  splitNotes,
  verifierKey,
} from './signed-note.js';
export type { ChainProblem, ChainReport, CheckpointClaim } from './verify-chain.js';
export { PRUNE_ACTION, verifyChain } from './verify-chain.js';
