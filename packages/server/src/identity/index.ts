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
export { agentStatusHistory, TRANSITIONS, transitionAgent } from './agent-lifecycle.js';
export type { CreateAgentInput, UpdateAgentInput } from './agents.js';
export {
  createAgent,
  DEFAULT_ENVIRONMENT,
  DEFAULT_RISK_LEVEL,
  getAgent,
  listAgents,
  updateAgent,
} from './agents.js';
export type { IdentityDeps } from './deps.js';
export type { CreateTeamInput } from './teams.js';
export { createTeam, listTeams } from './teams.js';
export type { CreateUserInput, UpdateUserInput } from './users.js';
export { createUser, deactivateUser, findUser, getUser, listUsers, updateUser } from './users.js';
