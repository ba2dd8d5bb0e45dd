export type {
  AgentClient,
  AgentClientOptions,
  AgentToken,
  ExchangeOptions,
  TokenOptions,
} from './agent-client.js';
export { createAgentClient } from './agent-client.js';
export type { ApprovalRequest, WaitForApprovalOptions } from './approvals.js';
export {
  APPROVAL_HEADER,
  APPROVAL_META_KEY,
  APPROVAL_REQUIRED_CODE,
  pendingApprovalOf,
} from './approvals.js';
export type { ParsedCredential } from './credential-format.js';
export { BODY_LENGTH, CREDENTIAL_PATTERN, formatCredential, parseCredential } from './credential-format.js';
export type { AuthorizationServerMetadata, DiscoveryOptions } from './discovery.js';
export { discoverAuthorizationServer } from './discovery.js';
export type { CustosSdkErrorCode, CustosSdkErrorOptions } from './errors.js';
export { CustosSdkError } from './errors.js';
export type { MemoryReplayCacheOptions, ReplayCache } from './replay-cache.js';
export { createMemoryReplayCache } from './replay-cache.js';
export type { RequestHeaders } from './request-credentials.js';
export type { AgentKeyAlgorithm, AgentPrivateKey } from './signing-key.js';
export type {
  AccessTokenClaims,
  ActorClaim,
  VerifiableRequest,
  VerifiedAccessToken,
  VerifyAccessTokenOptions,
} from './verify-access-token.js';
export { verifyAccessToken } from './verify-access-token.js';
export {
  jwkThumbprint,
  keyObjectOf,
  verifyJwsSignature,
  verifyJwsSignatureOffThread,
} from './verify-jws-signature.js';
