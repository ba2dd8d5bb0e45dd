export type { ActivityEvent, ActivityKind, ActivityOutcome } from './activity-event.js';
export {
  ACTIVITY_ACTIONS,
  ACTIVITY_REPORT,
  GATEWAY_CALL,
  isActivityAction,
  normalizeAddress,
  parseResourceText,
  resourceText,
  toActivity,
} from './activity-event.js';
export type { ReportedActivity } from './activity-ingest.js';
export { REPORT_MAX_AGE_MS, REPORT_MAX_SKEW_MS, reportActivity } from './activity-ingest.js';
export type { ActivityView, ActivityWindow } from './activity-view.js';
export { agentActivity, summarize, VIEW_MAX_EVENTS } from './activity-view.js';
export { AgentState } from './agent-state.js';
export type { BaselineData } from './baseline.js';
export { Baseline, hourOfWeek, networkOf, parseBaselineData } from './baseline.js';
export type { DelivererDeps } from './deliverer.js';
export { backoffMs, Deliverer } from './deliverer.js';
export { DetectorEngine, resourceClassifier } from './detector-engine.js';
export type { DetectContext, Detector, ResourceClassifier, Signal } from './detectors/index.js';
export { DETECTORS } from './detectors/index.js';
export type { FindingAction } from './findings.js';
export {
  changeFinding,
  evidenceOf,
  FINDING_ACTIONS,
  getFinding,
  listFindings,
  MONITOR_ACTOR,
  raiseFinding,
} from './findings.js';
export type { KillResult } from './kill-switch.js';
export { killAgent } from './kill-switch.js';
export type { MonitorMetrics } from './metrics.js';
export { createMonitorMetrics } from './metrics.js';
export type { BaselineView, MonitorService } from './monitor-service.js';
export { agentBaseline, monitorSettingsFrom, startMonitor } from './monitor-service.js';
export type { PipelineDeps, PipelineOptions } from './pipeline.js';
export { MonitorPipeline } from './pipeline.js';
export { responseFor, ruleText } from './response-rules.js';
export { liftRestriction, requiresApproval, restrictAgent } from './restrictions.js';
export type { SecurityEvent } from './set-emitter.js';
export {
  CAEP_CREDENTIAL_CHANGE,
  CAEP_SESSION_REVOKED,
  SET_TRIGGERS,
  SetSigner,
  securityEventsOf,
  setDelivery,
} from './set-emitter.js';
export type {
  DetectorId,
  DetectorSettings,
  MonitorSettings,
  ResourceTags,
  ResponseAction,
  ResponseRule,
  Severity,
} from './settings.js';
export {
  DEFAULT_DETECTORS,
  DEFAULT_SETTINGS,
  DETECTOR_IDS,
  globMatcher,
  RESPONSE_ACTIONS,
  SEVERITIES,
  severityRank,
} from './settings.js';
export type { WebhookSettings } from './webhook-sink.js';
export { alertHeaders, alertPayload, webhookDelivery } from './webhook-sink.js';
