export { readAllEvents } from './read-events.js';
export type { Actor, AuditEntry } from './record-audit-event.js';
export { auditStatement, diffFields, recordAuditEvent, SYSTEM_ACTOR } from './record-audit-event.js';
export type { ChainProblem, ChainReport, CheckpointClaim } from './verify-chain.js';
export { verifyChain } from './verify-chain.js';
