export { actChain, actClaim } from './act-chain.js';
export type { AuthenticatedClient, ClientAuthSettings } from './client-auth.js';
export { ASSERTION_ALGS, ASSERTION_TYPE, ClientAuthenticator } from './client-auth.js';
export type { OAuthDeps, OAuthRequest, OAuthResponse } from './deps.js';
export type { DpopSettings, VerifiedProof } from './dpop.js';
export { DPOP_ALGS, DpopNonces, normalizeHtu, verifyDpopProof } from './dpop.js';
export type { AddFederatedIssuerInput } from './federation.js';
export { addFederatedIssuer, listFederatedIssuers, removeFederatedIssuer } from './federation.js';
export type { AddIdentityProviderInput } from './identity-providers.js';
export {
  addIdentityProvider,
  listIdentityProviders,
  personFromProviderToken,
  removeIdentityProvider,
} from './identity-providers.js';
export { issueAccessToken } from './issue-access-token.js';
export type { ActiveKey, KeyRingSettings, SigningAlg } from './key-ring.js';
export { KeyRing } from './key-ring.js';
export { authorizationServerMetadata, PATHS } from './metadata.js';
export type { OAuthErrorCode } from './oauth-error.js';
export { OAuthError } from './oauth-error.js';
export { registerOAuthRoutes, sendOAuthError } from './routes.js';
export type { TokenStanding } from './token-standing.js';
export { tokenStanding } from './token-standing.js';
export { verifyIssuedToken } from './verify-issued-token.js';
