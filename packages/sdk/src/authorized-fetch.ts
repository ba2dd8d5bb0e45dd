import { createDpopProof, type DpopKey } from './dpop-proof.js';

/** The token a request is sent with (a subset of `AgentToken`). */
export interface RequestToken {
  readonly accessToken: string;
  readonly tokenType: 'DPoP' | 'Bearer';
}

/** Dependencies of {@link authorizedFetch}. */
export interface AuthorizedFetchDeps {
  readonly fetch: typeof fetch;
  readonly clock: () => number;
  /** Present when the token is DPoP-bound. */
  readonly dpopKey: DpopKey | undefined;
  /** Latest `DPoP-Nonce` per origin, shared with the token requests of the client. */
  readonly nonces: Map<string, string>;
}

function demandsNonce(response: Response): boolean {
  if (response.status !== 401 || !response.headers.has('dpop-nonce')) return false;
  const challenge = response.headers.get('www-authenticate') ?? '';
  return /\bDPoP\b/i.test(challenge) && /\berror\s*=\s*"?use_dpop_nonce"?/i.test(challenge);
}

function isReplayable(body: RequestInit['body']): boolean {
  return !(body instanceof ReadableStream);
}

/**
 * Sends one request with `Authorization: <type> <token>` and, for DPoP tokens, a
 * fresh proof carrying `htm`, `htu`, `iat`, `jti`, `ath` and the origin's latest
 * nonce. A 401 `use_dpop_nonce` challenge with a `DPoP-Nonce` header is answered
 * by exactly one retry with a new proof, unless the body is a one-shot stream (the
 * 401 is then returned). Any `Authorization` or `DPoP` header the caller set is
 * replaced.
 */
export async function authorizedFetch(
  deps: AuthorizedFetchDeps,
  token: RequestToken,
  input: string | URL | Request,
  init: RequestInit = {},
): Promise<Response> {
  const request = input instanceof Request ? input : undefined;
  const url = new URL(request ? request.url : input.toString());
  const method = (init.method ?? request?.method ?? 'GET').toUpperCase();
  const baseHeaders = init.headers ?? request?.headers;
  const dpopKey = token.tokenType === 'DPoP' ? deps.dpopKey : undefined;
  const canRetry = dpopKey !== undefined && isReplayable(init.body);
  // a Request body can be read once: keep a copy for the nonce retry
  const retryTarget =
    canRetry && request && request.body !== null && init.body === undefined
      ? request.clone()
      : (request ?? input);

  async function send(target: string | URL | Request): Promise<Response> {
    const headers = new Headers(baseHeaders);
    headers.set('authorization', `${token.tokenType} ${token.accessToken}`);
    if (dpopKey) {
      const nonce = deps.nonces.get(url.origin);
      const proof = await createDpopProof(dpopKey, {
        method,
        url,
        accessToken: token.accessToken,
        nonce,
        now: deps.clock(),
      });
      headers.set('dpop', proof);
    }
    const response = await deps.fetch(target, { ...init, method, headers });
    const nonce = response.headers.get('dpop-nonce');
    if (dpopKey && nonce) deps.nonces.set(url.origin, nonce);
    return response;
  }

  const first = await send(request ?? input);
  if (!canRetry || !demandsNonce(first)) return first;
  await first.body?.cancel();
  return send(retryTarget);
}
