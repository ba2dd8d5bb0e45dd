export { requireAdmin, requireAgentAccess, requireWriter } from './access.js';
export type { CreateAdminTokenInput } from './admin-tokens.js';
export {
  authenticateAdminToken,
  createAdminToken,
  ensureBootstrapToken,
  generateAdminToken,
  hashAdminToken,
  isAdminTokenFormat,
  listAdminTokens,
  revokeAdminToken,
} from './admin-tokens.js';
export type { AddAgentKeyInput } from './agent-keys.js';
export {
  addAgentKey,
  DEFAULT_AGENT_KEY_TTL_MS,
  listAgentKeys,
  revokeAgentKey,
  validatePublicJwk,
} from './agent-keys.js';
export type { AgentTransition } from './agent-lifecycle.js';
export { agentStatusHistory, applyTransition, TRANSITIONS, transitionAgent } from './agent-lifecycle.js';
export type { CreateAgentInput, UpdateAgentInput } from './agents.js';
export {
  createAgent,
  DEFAULT_ENVIRONMENT,
  DEFAULT_RISK_LEVEL,
  getAgent,
  listAgents,
  updateAgent,
} from './agents.js';
export type { GrantConsentInput } from './consents.js';
export { grantConsent, listConsents, revokeConsent } from './consents.js';
export type { ClientInfo, OpenedSession, ResolvedSession } from './console-sessions.js';
export {
  BAD_CREDENTIALS,
  pruneSessions,
  resolveSession,
  SESSION_IDLE_MS,
  SESSION_TTL_MS,
  SignInThrottled,
  signInWithPassword,
  signInWithToken,
  signOut,
} from './console-sessions.js';
export type { IdentityDeps } from './deps.js';
export { THROTTLE } from './login-throttle.js';
export type { SetPasswordInput } from './passwords.js';
export {
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  removeUserPassword,
  setUserPassword,
} from './passwords.js';
export type { CreateTeamInput } from './teams.js';
export { createTeam, listTeams } from './teams.js';
export type { CreateUserInput, UpdateUserInput } from './users.js';
export {
  createUser,
  deactivateUser,
  findUser,
  getUser,
  listUsers,
  resolveUser,
  updateUser,
} from './users.js';
