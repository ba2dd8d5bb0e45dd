export type { ParsedCredential } from './credential-format.js';
export { BODY_LENGTH, CREDENTIAL_PATTERN, formatCredential, parseCredential } from './credential-format.js';
