import { type ApprovalRequest, pollApproval, type WaitForApprovalOptions } from './approvals.js';
import { authorizedFetch } from './authorized-fetch.js';
import { createClientAssertion } from './client-assertion.js';
import { type AuthorizationServerMetadata, discoverAuthorizationServer } from './discovery.js';
import { createDpopKey, type DpopKey } from './dpop-proof.js';
import { CustosSdkError } from './errors.js';
import {
  type AgentKeyAlgorithm,
  type AgentPrivateKey,
  resolveSigningKey,
  type SigningKey,
} from './signing-key.js';
import { createSingleFlightCache } from './single-flight-cache.js';
import { requestToken } from './token-request.js';

/** Options of {@link createAgentClient}. */
export interface AgentClientOptions {
  /** Issuer identifier of the Custos server, exactly as in its metadata (e.g. `https://custos.example.com`). */
  readonly issuer: string;
  /** The agent's id (`agt_…`): `client_id`, and `iss`/`sub` of client assertions. */
  readonly agentId: string;
  /** The agent's registered private key. Exactly one of `privateKey` and `assertionProvider`. */
  readonly privateKey?: AgentPrivateKey;
  /** Signature algorithm of `privateKey` (default: the JWK's `alg`, else inferred; RSA → RS256). */
  readonly privateKeyAlg?: AgentKeyAlgorithm;
  /** `kid` of `privateKey` as registered (default: the JWK's `kid`; required for `CryptoKey`/`KeyObject`). */
  readonly privateKeyId?: string;
  /**
   * Returns a ready client assertion (e.g. a Kubernetes service-account token for
   * workload federation), sent as-is. Called once per token request attempt.
   */
  readonly assertionProvider?: () => Promise<string>;
  /** Request DPoP-bound tokens (default `true`). */
  readonly dpop?: boolean;
  /** HTTP client for the authorization server and `client.fetch` (default the global `fetch`). */
  readonly fetch?: typeof fetch;
  /** Current time in milliseconds since the epoch (default `Date.now`). */
  readonly clock?: () => number;
  /** Refresh a token this many seconds before it expires (default 30; capped at half its lifetime). */
  readonly refreshSkewSeconds?: number;
}

/** What to ask the token endpoint for. */
export interface TokenOptions {
  /** Scopes, as a list or a space-separated string. Order and duplicates do not matter. */
  readonly scope?: string | readonly string[];
  /** RFC 8707 resource indicators (absolute URIs). Not sent when absent. */
  readonly resource?: string | readonly string[];
  /**
   * Act on behalf of a person (RFC 8693 token exchange): their token from a
   * trusted identity provider, or a delegated Custos token of a parent agent.
   */
  readonly subjectToken?: string;
  /** Type of `subjectToken` (default `urn:ietf:params:oauth:token-type:jwt`; a Custos token is an `access_token`). */
  readonly subjectTokenType?: string;
}

/** What {@link AgentClient.exchangeToken} asks for. */
export interface ExchangeOptions extends TokenOptions {
  readonly subjectToken: string;
}

/** An access token held by the client. */
export interface AgentToken {
  readonly accessToken: string;
  /** `DPoP` when bound to this client's DPoP key; `Bearer` otherwise. */
  readonly tokenType: 'DPoP' | 'Bearer';
  /** Expiry in milliseconds since the epoch, from `expires_in` and the client clock. */
  readonly expiresAt: number;
  /** Granted scopes (the requested ones when the server did not say). */
  readonly scope: readonly string[];
}

/** An agent's connection to Custos; see {@link createAgentClient}. */
export interface AgentClient {
  /**
   * Returns an access token for `options`, from the cache while it is more than
   * `refreshSkewSeconds` from expiry. Concurrent calls for the same scope and
   * resource sets share one token request.
   *
   * @throws {CustosSdkError} `discovery_failed` or `token_request_failed`.
   */
  getToken(options?: TokenOptions): Promise<AgentToken>;
  /**
   * A delegated token (RFC 8693): the agent acts for the person `subjectToken`
   * names (`sub` = the person, `act` = this agent and any agents before it).
   * Cached like {@link getToken}, per subject token, scope and resource.
   *
   * @throws {CustosSdkError} `token_request_failed` with the server's OAuth
   *   error (`invalid_request` for an unacceptable subject token or a missing
   *   consent, `invalid_scope`, `invalid_target`).
   */
  exchangeToken(options: ExchangeOptions): Promise<AgentToken>;
  /**
   * `fetch` with the agent's token: sets `Authorization` and, for DPoP tokens, a
   * fresh `DPoP` proof bound to the method, URL and token; answers a
   * `use_dpop_nonce` challenge with one retry. Responses are returned as they are
   * (a 401 or 403 from the resource is not an exception).
   *
   * @throws {CustosSdkError} when no token can be obtained; otherwise what `fetch` throws.
   */
  fetch(input: string | URL | Request, init?: RequestInit, options?: TokenOptions): Promise<Response>;
  /**
   * RFC 7638 SHA-256 thumbprint of this client's DPoP public key (the `cnf.jkt`
   * of its tokens). Rejects with a `TypeError` when DPoP is disabled.
   */
  dpopThumbprint(): Promise<string>;
  /**
   * Waits for a person to decide an approval request the gateway opened (see
   * {@link pendingApprovalOf}), polling Custos with this agent's token
   * (obtained with `tokenOptions`). Resolves with the approved request; retry
   * the exact same call with its `id` (MCP: `_meta["custos/approval"]`; HTTP:
   * the `Custos-Approval` header). The reference works once.
   *
   * @throws {CustosSdkError} `approval_denied`, `approval_expired`, `approval_timeout`, `approval_failed`.
   */
  waitForApproval(
    approvalId: string,
    options?: WaitForApprovalOptions & { readonly tokenOptions?: TokenOptions },
  ): Promise<ApprovalRequest>;
}

const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

interface CacheEntry {
  readonly token: AgentToken;
  readonly refreshAt: number;
}

function toList(value: string | readonly string[] | undefined, splitSpaces: boolean): string[] {
  const items = value === undefined ? [] : typeof value === 'string' ? [value] : value;
  const parts = splitSpaces ? items.flatMap((item) => item.split(/\s+/)) : items.map((item) => item.trim());
  return [...new Set(parts.filter((part) => part !== ''))].sort();
}

function validate(options: AgentClientOptions): void {
  if (typeof options.issuer !== 'string' || !URL.canParse(options.issuer)) {
    throw new TypeError('`issuer` must be an absolute url');
  }
  if (typeof options.agentId !== 'string' || options.agentId === '') {
    throw new TypeError('`agentId` is required');
  }
  if ((options.privateKey === undefined) === (options.assertionProvider === undefined)) {
    throw new TypeError('pass exactly one of `privateKey` and `assertionProvider`');
  }
  const skew = options.refreshSkewSeconds;
  if (skew !== undefined && !(Number.isFinite(skew) && skew >= 0)) {
    throw new TypeError('`refreshSkewSeconds` must be a non-negative number');
  }
}

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => {
    promise ??= make();
    return promise;
  };
}

/**
 * Creates the client an agent uses to obtain Custos access tokens
 * (`client_credentials` with `private_key_jwt`, RFC 7523) and to call resources
 * with them.
 *
 * Guarantees: one ES256 DPoP key pair per client, generated lazily with a
 * non-extractable private key; tokens cached per (scope set, resource set) and
 * refreshed `refreshSkewSeconds` before expiry; one token request at a time per
 * cache key; the latest `DPoP-Nonce` of each origin is remembered and used.
 * Nothing is sent before the first `getToken` or `fetch`.
 *
 * @throws {TypeError} synchronously on invalid options (both or neither of
 *   `privateKey` and `assertionProvider`, a relative `issuer`…); key problems
 *   (unsupported type, missing `kid`) surface as a `TypeError` from the first `getToken`.
 */
export function createAgentClient(options: AgentClientOptions): AgentClient {
  validate(options);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const clock = options.clock ?? Date.now;
  const skewMs = (options.refreshSkewSeconds ?? 30) * 1000;
  const useDpop = options.dpop ?? true;
  const nonces = new Map<string, string>();
  const dpopKey = once(createDpopKey);
  const { privateKey, assertionProvider } = options;
  const signingKey = once<SigningKey>(() =>
    privateKey === undefined
      ? Promise.reject(new TypeError('no private key'))
      : resolveSigningKey(privateKey, options.privateKeyAlg, options.privateKeyId),
  );
  const cache = createSingleFlightCache<CacheEntry>((entry) => clock() < entry.refreshAt);

  async function assertion(metadata: AuthorizationServerMetadata): Promise<string> {
    if (assertionProvider) {
      const value = await assertionProvider();
      if (typeof value !== 'string' || value === '') {
        throw new TypeError('`assertionProvider` must resolve to a non-empty string');
      }
      return value;
    }
    return createClientAssertion({
      agentId: options.agentId,
      audience: metadata.issuer,
      signingKey: await signingKey(),
      now: clock(),
    });
  }

  async function load(
    scopes: string[],
    resources: string[],
    exchange: { subjectToken: string; subjectTokenType: string } | undefined,
  ): Promise<CacheEntry> {
    const metadata = await discoverAuthorizationServer(options.issuer, { fetch: options.fetch });
    const algs = metadata.dpop_signing_alg_values_supported;
    if (useDpop && algs && !algs.includes('ES256')) {
      throw new CustosSdkError('discovery_failed', 'server does not accept es256 dpop proofs', {
        status: 503,
      });
    }
    const startedAt = clock();
    const response = await requestToken({
      fetch: fetchImpl,
      metadata,
      agentId: options.agentId,
      assertion: () => assertion(metadata),
      scopes,
      resources,
      exchange,
      dpop: useDpop ? { key: await dpopKey(), nonces } : undefined,
      clock,
    });
    const lifetimeMs = response.expiresIn * 1000;
    const expiresAt = startedAt + lifetimeMs;
    const token: AgentToken = {
      accessToken: response.accessToken,
      tokenType: response.tokenType,
      expiresAt,
      scope: response.scope === undefined ? scopes : toList(response.scope, true),
    };
    // INVARIANT: a token is handed out only while it has at least the skew (or half its life) left
    return { token, refreshAt: expiresAt - Math.min(skewMs, lifetimeMs / 2) };
  }

  async function getToken(tokenOptions: TokenOptions = {}): Promise<AgentToken> {
    const scopes = toList(tokenOptions.scope, true);
    const resources = toList(tokenOptions.resource, false);
    const { subjectToken } = tokenOptions;
    if (subjectToken !== undefined && (typeof subjectToken !== 'string' || subjectToken === '')) {
      throw new TypeError('`subjectToken` must be a non-empty string');
    }
    const exchange = subjectToken
      ? { subjectToken, subjectTokenType: tokenOptions.subjectTokenType ?? JWT_TOKEN_TYPE }
      : undefined;
    const key = JSON.stringify([
      scopes,
      resources,
      exchange?.subjectToken ?? null,
      exchange?.subjectTokenType,
    ]);
    const entry = await cache.get(key, () => load(scopes, resources, exchange));
    return entry.token;
  }

  return {
    getToken,
    exchangeToken(exchangeOptions) {
      if (typeof exchangeOptions?.subjectToken !== 'string' || exchangeOptions.subjectToken === '') {
        return Promise.reject(new TypeError('`subjectToken` is required'));
      }
      return getToken(exchangeOptions);
    },
    async fetch(input, init, tokenOptions) {
      const token = await getToken(tokenOptions);
      const key: DpopKey | undefined = token.tokenType === 'DPoP' ? await dpopKey() : undefined;
      return authorizedFetch({ fetch: fetchImpl, clock, dpopKey: key, nonces }, token, input, init);
    },
    async waitForApproval(approvalId, waitOptions = {}) {
      if (typeof approvalId !== 'string' || !/^apr_[0-9a-z]{26}$/.test(approvalId)) {
        throw new TypeError('`approvalId` must be an approval id (apr_…)');
      }
      const url = new URL(`${options.issuer.replace(/\/+$/, '')}/api/v1/approvals/${approvalId}`);
      const read = async () => {
        const token = await getToken(waitOptions.tokenOptions);
        const key: DpopKey | undefined = token.tokenType === 'DPoP' ? await dpopKey() : undefined;
        return authorizedFetch({ fetch: fetchImpl, clock, dpopKey: key, nonces }, token, url, {
          headers: { accept: 'application/json' },
        });
      };
      const sleep = (ms: number, signal?: AbortSignal) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, ms);
          signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(signal.reason);
          });
        });
      return pollApproval(read, waitOptions, sleep, clock);
    },
    async dpopThumbprint() {
      if (!useDpop) throw new TypeError('dpop is disabled for this client');
      return (await dpopKey()).thumbprint;
    },
  };
}
