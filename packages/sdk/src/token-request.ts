import type { AuthorizationServerMetadata } from './discovery.js';
import { createDpopProof, type DpopKey } from './dpop-proof.js';
import { CustosSdkError } from './errors.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TIMEOUT_MS = 30_000;

/** The parts of a successful token response the client uses. */
export interface TokenResponse {
  readonly accessToken: string;
  readonly tokenType: 'DPoP' | 'Bearer';
  readonly expiresIn: number;
  /** Granted scope, when the server says (RFC 6749 §5.1: absent = as requested). */
  readonly scope: string | undefined;
}

/** Everything one token request needs; the caller owns every piece of state. */
export interface TokenRequestInput {
  readonly fetch: typeof fetch;
  readonly metadata: AuthorizationServerMetadata;
  readonly agentId: string;
  /** Returns a client assertion; called once per attempt so each one is fresh. */
  readonly assertion: () => Promise<string>;
  readonly scopes: readonly string[];
  readonly resources: readonly string[];
  /** RFC 8693 token exchange instead of `client_credentials`: the person's (or a parent agent's delegated) token. */
  readonly exchange?: { readonly subjectToken: string; readonly subjectTokenType: string } | undefined;
  /** DPoP key and the per-origin nonce memory; absent for bearer tokens. */
  readonly dpop: { readonly key: DpopKey; readonly nonces: Map<string, string> } | undefined;
  readonly clock: () => number;
}

interface FailureDetails {
  /** The RFC 6749 error body of the server, if it sent one. */
  readonly body?: Record<string, unknown> | undefined;
  readonly cause?: unknown;
}

function failed(message: string, status: number, details: FailureDetails = {}): CustosSdkError {
  const { error, error_description: description } = details.body ?? {};
  return new CustosSdkError('token_request_failed', message, {
    status,
    oauthError: typeof error === 'string' ? error : undefined,
    oauthErrorDescription: typeof description === 'string' ? description : undefined,
    cause: details.cause,
  });
}

// RFC 6749 §5.2 error codes are short printable ASCII; anything else stays out of messages
const ERROR_CODE = /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/;

async function readJson(response: Response): Promise<Record<string, unknown> | undefined> {
  try {
    const body: unknown = await response.json();
    return typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

async function send(input: TokenRequestInput, nonce: string | undefined): Promise<Response> {
  const endpoint = input.metadata.token_endpoint;
  const form = new URLSearchParams({
    grant_type: input.exchange ? TOKEN_EXCHANGE : 'client_credentials',
    client_id: input.agentId,
    client_assertion_type: JWT_BEARER,
    client_assertion: await input.assertion(),
  });
  if (input.exchange) {
    form.set('subject_token', input.exchange.subjectToken);
    form.set('subject_token_type', input.exchange.subjectTokenType);
  }
  if (input.scopes.length > 0) form.set('scope', input.scopes.join(' '));
  for (const resource of input.resources) form.append('resource', resource);
  const headers = new Headers({
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  });
  if (input.dpop) {
    const proof = await createDpopProof(input.dpop.key, {
      method: 'POST',
      url: endpoint,
      nonce,
      now: input.clock(),
    });
    headers.set('dpop', proof);
  }
  try {
    return await input.fetch(endpoint, {
      method: 'POST',
      headers,
      body: form,
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (cause) {
    throw failed('cannot reach the token endpoint', 502, { cause });
  }
}

function parseSuccess(body: Record<string, unknown> | undefined, dpop: boolean): TokenResponse {
  if (!body) throw failed('token response is not a json object', 502);
  const { access_token: accessToken, token_type: type, expires_in: expiresIn, scope } = body;
  if (typeof accessToken !== 'string' || accessToken === '') {
    throw failed('token response lacks `access_token`', 502);
  }
  const tokenType = typeof type === 'string' ? type.toLowerCase() : '';
  if (tokenType !== 'dpop' && tokenType !== 'bearer') {
    throw failed('token response has an unknown `token_type`', 502);
  }
  // a DPoP-bound token is useless without the proof key: only ever accept it when we asked
  if (tokenType === 'dpop' && !dpop) throw failed('server returned a dpop token to a bearer client', 502);
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
    throw failed('token response lacks a positive `expires_in`', 502);
  }
  if (scope !== undefined && typeof scope !== 'string') {
    throw failed('token response `scope` is not a string', 502);
  }
  return { accessToken, tokenType: tokenType === 'dpop' ? 'DPoP' : 'Bearer', expiresIn, scope };
}

/**
 * Performs one `client_credentials` (or RFC 8693 token exchange) token request with `private_key_jwt` client
 * authentication and, when a DPoP key is given, a DPoP proof. When the server
 * answers 400 `use_dpop_nonce` with a `DPoP-Nonce` header, it retries exactly
 * once with that nonce (fresh assertion and proof). Any `DPoP-Nonce` the server
 * sends is remembered per token-endpoint origin for later requests.
 *
 * @throws {CustosSdkError} `token_request_failed` with the server's status and
 *   RFC 6749 `error` / `error_description` when it refuses, or status 502 when
 *   it is unreachable or its answer is unusable.
 */
export async function requestToken(input: TokenRequestInput): Promise<TokenResponse> {
  const origin = new URL(input.metadata.token_endpoint).origin;
  for (let attempt = 1; ; attempt++) {
    const response = await send(input, input.dpop?.nonces.get(origin));
    const newNonce = response.headers.get('dpop-nonce');
    if (input.dpop && newNonce) input.dpop.nonces.set(origin, newNonce);
    const body = await readJson(response);
    if (response.status === 200) return parseSuccess(body, input.dpop !== undefined);
    const retry = attempt === 1 && input.dpop && newNonce && body?.error === 'use_dpop_nonce';
    if (retry) continue;
    const error = body?.error;
    const code = typeof error === 'string' && ERROR_CODE.test(error) ? ` \`${error}\`` : '';
    throw failed(`token request refused with status ${response.status}${code}`, response.status, { body });
  }
}
