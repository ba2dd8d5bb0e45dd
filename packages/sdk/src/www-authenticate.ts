import { CustosSdkError } from './errors.js';

/** The authorization scheme a challenge is issued for. */
export type AuthScheme = 'Bearer' | 'DPoP';

/** Verification failures that map to an RFC 6750 / RFC 9449 challenge. */
export type ChallengeCode =
  | 'missing_token'
  | 'invalid_request'
  | 'invalid_token'
  | 'invalid_dpop_proof'
  | 'insufficient_scope';

/** What the challenge needs to know about the request that failed. */
export interface ChallengeContext {
  /** Scheme the token was presented with, or must be presented with (bound tokens). */
  readonly scheme: AuthScheme;
  /** Signature algorithms accepted for DPoP proofs (`algs` parameter, RFC 9449 §7.1). */
  readonly algs: readonly string[];
  /** Scopes the resource requires, for `insufficient_scope`. */
  readonly scope?: readonly string[];
}

const STATUS: Record<ChallengeCode, number> = {
  missing_token: 401,
  invalid_request: 400,
  invalid_token: 401,
  invalid_dpop_proof: 401,
  insufficient_scope: 403,
};

// RFC 6750 §3: error_description and scope allow %x20-21 / %x23-5B / %x5D-7E only
function quoted(value: string): string {
  return `"${value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '')}"`;
}

function challengeFor(code: ChallengeCode, description: string, context: ChallengeContext): string {
  const algs = `algs=${quoted(context.algs.join(' '))}`;
  // RFC 6750 §3.1: a request without credentials gets a challenge without an error code
  if (code === 'missing_token') return `Bearer, DPoP ${algs}`;
  const params = [`error=${quoted(code)}`, `error_description=${quoted(description)}`];
  if (code === 'insufficient_scope' && context.scope) params.push(`scope=${quoted(context.scope.join(' '))}`);
  if (context.scheme === 'DPoP') params.push(algs);
  return `${context.scheme} ${params.join(', ')}`;
}

/**
 * Builds the {@link CustosSdkError} for a failed verification, with its status and
 * a `WWW-Authenticate` value ready to return. Never throws.
 */
export function verificationError(
  code: ChallengeCode,
  message: string,
  context: ChallengeContext,
  cause?: unknown,
): CustosSdkError {
  return new CustosSdkError(code, message, {
    status: STATUS[code],
    wwwAuthenticate: challengeFor(code, message, context),
    cause,
  });
}
