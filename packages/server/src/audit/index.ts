export type { AuditKey } from './audit-key.js';
export { loadAuditKey } from './audit-key.js';
export type { CheckpointSettings } from './checkpointer.js';
export { Checkpointer } from './checkpointer.js';
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
export { verifyChain } from './verify-chain.js';
