export type { Actor, AuditEntry } from './record-audit-event.js';
export { auditStatement, diffFields, recordAuditEvent, SYSTEM_ACTOR } from './record-audit-event.js';
