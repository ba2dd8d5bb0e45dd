/** Why the gateway refused a request before any upstream was involved. */
export type GatewayErrorCode =
  /** No credentials at all (RFC 6750 §3.1: the challenge carries no error code). */
  | 'token_required'
  | 'invalid_request'
  | 'invalid_token'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'insufficient_scope'
  | 'forbidden_origin'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'rate_limited'
  | 'forbidden'
  | 'upstream_error'
  | 'unavailable';

const STATUS: Readonly<Record<GatewayErrorCode, number>> = {
  token_required: 401,
  invalid_request: 400,
  invalid_token: 401,
  invalid_dpop_proof: 401,
  use_dpop_nonce: 401,
  insufficient_scope: 403,
  forbidden_origin: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  rate_limited: 429,
  forbidden: 403,
  upstream_error: 502,
  unavailable: 503,
};

/**
 * A refusal at the gateway, answered with its HTTP status (and, for the token
 * codes of RFC 6750 / RFC 9449, a `WWW-Authenticate` challenge). The
 * description goes to the caller: it never echoes a credential.
 */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly status: number;
  /**
   * The agent and token id of the access token the refused request presented,
   * when its signature verified (whatever else was wrong): who the refusal's
   * record names. Set by the token check.
   */
  presentedBy: { readonly agentId: string; readonly tokenId: string } | null = null;
  /** Not a refusal worth a record (an answer of the protocol's normal flow, or the upstream's doing). */
  readonly unrecorded: boolean;
  constructor(
    readonly code: GatewayErrorCode,
    readonly description: string,
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown; unrecorded?: boolean },
  ) {
    super(description, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = STATUS[code];
    this.unrecorded = options?.unrecorded ?? false;
  }
}
