export { requirePolicyAdmin, requirePolicyReader } from './access.js';
export type { AuthzenParts, EvaluationsSemantic } from './authzen.js';
export {
  AuthzenRequestError,
  decisionBody,
  mergeDefaults,
  pageOf,
  stopsAfter,
  toDecisionRequest,
} from './authzen.js';
export type { SearchOutcome } from './authzen-search.js';
export { searchActions, searchResources, searchSubjects } from './authzen-search.js';
export type { Decision, DecisionRequest, EvaluationError, RecordedRequest, SetDecision } from './decision.js';
export { recordedRequest } from './decision.js';
export type { PolicyDeps } from './deps.js';
export type { EngineState } from './engine.js';
export { PolicyEngine } from './engine.js';
export type { EntityInput } from './entities.js';
export { deleteEntity, getEntity, listEntities, upsertEntities } from './entities.js';
export type { EntityUid } from './entity-uid.js';
export { isEntityTypeName, parseUidText, uidText } from './entity-uid.js';
export type { AddGrantInput, GrantQuery } from './grants.js';
export { addGrant, getGrant, listGrants, revokeGrant } from './grants.js';
export { AGENT_INACTIVE, PLATFORM_POLICIES, USER_INACTIVE } from './platform-policies.js';
export { CORE_SCHEMA, DEFAULT_EXTENSION } from './platform-schema.js';
export type { PolicySetView } from './policy-reads.js';
export { getPolicy, listPolicies, listPolicyVersions } from './policy-reads.js';
export type { PolicyDiff, PolicySetInput, PutPoliciesInput, PutPoliciesResult } from './policy-sets.js';
export { putPolicies, validatePolicies } from './policy-sets.js';
export type { PolicyInput, PolicySource } from './policy-sources.js';
export type { PolicyTestCase, PolicyTestResult } from './policy-tests.js';
export { runPolicyTests } from './policy-tests.js';
export type { DecisionSource } from './record-decision.js';
export { decisionAuditEntry, denyReason } from './record-decision.js';
export type { SchemaView } from './schema-ops.js';
export { getSchema, putSchema } from './schema-ops.js';
export { discardShadow, promoteShadow } from './shadow-rollout.js';
export type { ValidationMessage } from './validation.js';
export type { WhatIfChange } from './what-if.js';
export { whatIf } from './what-if.js';
