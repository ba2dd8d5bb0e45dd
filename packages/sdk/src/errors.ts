/**
 * Stable error codes of the SDK; callers match on these, never on messages.
 *
 * Raised by `verifyAccessToken` (the resource server side):
 * - `missing_token`: no `Bearer` or `DPoP` credentials in the request (401).
 * - `invalid_request`: malformed or repeated `Authorization` header (400).
 * - `invalid_token`: the access token is not acceptable: signature, `typ`, `alg`,
 *   claims, expiry, unknown key, or the wrong authorization scheme for its binding (401).
 * - `invalid_dpop_proof`: the DPoP proof is missing, repeated or fails a check of
 *   RFC 9449 §4.3 (401).
 * - `insufficient_scope`: the token lacks a required scope (403).
 * - `discovery_failed`: the issuer's metadata or JWKS could not be fetched or is
 *   invalid (503; the resource server cannot decide, so it refuses).
 *
 * Raised by the agent client:
 * - `discovery_failed`: the authorization server metadata is unreachable or invalid (503).
 * - `token_request_failed`: the token endpoint refused the request or answered
 *   something unusable; `status` is its HTTP status (502 when there was none).
 * - `approval_denied`, `approval_expired`, `approval_timeout`: `waitForApproval`
 *   ended without an approval (403, 410, 408); `approval_failed`: the approval
 *   could not be read (its HTTP status, 502 when there was none).
 */
export type CustosSdkErrorCode =
  | 'missing_token'
  | 'invalid_request'
  | 'invalid_token'
  | 'invalid_dpop_proof'
  | 'insufficient_scope'
  | 'discovery_failed'
  | 'token_request_failed'
  | 'approval_denied'
  | 'approval_expired'
  | 'approval_timeout'
  | 'approval_failed';

/** Construction details of a {@link CustosSdkError}. */
export interface CustosSdkErrorOptions {
  /** HTTP status; see {@link CustosSdkError.status}. */
  readonly status: number;
  /** Ready `WWW-Authenticate` value; see {@link CustosSdkError.wwwAuthenticate}. */
  readonly wwwAuthenticate?: string;
  /** RFC 6749 `error` returned by the authorization server (`token_request_failed` only). */
  readonly oauthError?: string;
  /** RFC 6749 `error_description` returned by the authorization server, if any. */
  readonly oauthErrorDescription?: string;
  /** The underlying error, kept for logs. */
  readonly cause?: unknown;
}

/**
 * The one error class the SDK raises on purpose. `message` is lowercase without a
 * final full stop and is safe to log; it never contains a token or key.
 *
 * Programming mistakes (missing options, an unsupported key type) are reported as
 * plain `TypeError`s instead, at the call that received them.
 */
export class CustosSdkError extends Error {
  override readonly name = 'CustosSdkError';
  /** Stable, machine-readable reason. */
  readonly code: CustosSdkErrorCode;
  /**
   * For verification failures, the status a resource server should answer with
   * (400, 401, 403, or 503 when the issuer cannot be reached). For client-side
   * `token_request_failed`, the authorization server's status (502 when none).
   */
  readonly status: number;
  /**
   * For verification failures (400/401/403), a complete `WWW-Authenticate` header
   * value (RFC 6750 §3, RFC 9449 §7.1) that a resource server can return as-is;
   * `undefined` for client-side errors and `discovery_failed`.
   */
  readonly wwwAuthenticate: string | undefined;
  /** RFC 6749 `error` from the authorization server, when it sent one. */
  readonly oauthError: string | undefined;
  /** RFC 6749 `error_description` from the authorization server, when it sent one. */
  readonly oauthErrorDescription: string | undefined;

  constructor(code: CustosSdkErrorCode, message: string, options: CustosSdkErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.wwwAuthenticate = options.wwwAuthenticate;
    this.oauthError = options.oauthError;
    this.oauthErrorDescription = options.oauthErrorDescription;
  }
}
