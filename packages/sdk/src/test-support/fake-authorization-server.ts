// A tiny, independent authorization server for the SDK's tests: it serves RFC 8414
// metadata and a JWKS, checks token requests with jose (never with SDK code) and
// mints RFC 9068 access tokens. It also hosts `/resource/*`, a protected resource
// that checks DPoP requests with jose on its own.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  decodeJwt,
  EmbeddedJWK,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';

export interface IssuerKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicJwk: JWK;
}

/** One token request as the server saw and checked it. */
export interface RecordedTokenRequest {
  readonly form: URLSearchParams;
  readonly assertionHeader?: Record<string, unknown>;
  readonly assertionClaims?: JWTPayload;
  readonly proofHeader?: Record<string, unknown>;
  readonly proofClaims?: JWTPayload;
  readonly outcome: 'issued' | 'refused';
  readonly error?: string;
}

/** One resource request as the server saw and checked it. */
export interface RecordedResourceRequest {
  readonly method: string;
  readonly url: string;
  readonly body: string;
  readonly authorization: string | undefined;
  readonly proofClaims?: JWTPayload;
  readonly error?: string;
}

export interface RegisteredAgent {
  readonly kid: string;
  readonly alg: string;
  readonly publicJwk: JWK;
}

export interface FakeAuthorizationServer {
  readonly issuer: string;
  readonly keys: IssuerKey[];
  readonly agents: Map<string, RegisteredAgent>;
  /** Assertions from this trusted workload issuer key log in as `federatedAgentId`. */
  federation:
    | { readonly publicKey: CryptoKey; readonly issuer: string; readonly agentId: string }
    | undefined;
  readonly tokenRequests: RecordedTokenRequest[];
  readonly resourceRequests: RecordedResourceRequest[];
  jwksFetches: number;
  tokenLifetimeSeconds: number;
  /** When set, token requests must carry this DPoP nonce. */
  tokenNonce: string | undefined;
  /** When set, resource requests must carry this DPoP nonce. */
  resourceNonce: string | undefined;
  /** The nonce handed out in `DPoP-Nonce` (default: the required one); tests of a stubborn server. */
  nonceHint: string | undefined;
  /** Delay before answering a token request (single-flight tests). */
  tokenDelayMs: number;
  /** When set, the token endpoint refuses every request with this error. */
  refuseWith: string | undefined;
  /** Overrides the issuer the metadata claims (discovery tests). */
  metadataIssuer: string | undefined;
  /** Adds a new signing key (published in the JWKS) and makes it the one that signs. */
  rotateKey(): Promise<IssuerKey>;
  /** Signs an access token with the active key; `header` overrides protected header members. */
  mint(claims: JWTPayload, header?: Record<string, unknown>, key?: IssuerKey): Promise<string>;
  close(): Promise<void>;
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

async function newIssuerKey(): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomBytes(6).toString('hex');
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return { kid, alg: 'ES256', privateKey, publicKey, publicJwk };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export async function startFakeAuthorizationServer(
  options: { clock?: () => number } = {},
): Promise<FakeAuthorizationServer> {
  const clock = options.clock ?? Date.now;
  const usedAssertionJtis = new Set<string>();
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) =>
      json(res, 500, { error: 'server_error', detail: String(error) }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const state: FakeAuthorizationServer = {
    issuer,
    keys: [await newIssuerKey()],
    agents: new Map(),
    federation: undefined,
    tokenRequests: [],
    resourceRequests: [],
    jwksFetches: 0,
    tokenLifetimeSeconds: 300,
    tokenNonce: undefined,
    resourceNonce: undefined,
    nonceHint: undefined,
    tokenDelayMs: 0,
    refuseWith: undefined,
    metadataIssuer: undefined,
    async rotateKey() {
      const key = await newIssuerKey();
      state.keys.push(key);
      return key;
    },
    mint(claims, header = {}, key) {
      const signer = key ?? (state.keys.at(-1) as IssuerKey);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt', ...header })
        .sign(signer.privateKey);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };

  async function verifyAssertion(
    form: URLSearchParams,
  ): Promise<{ header: Record<string, unknown>; sub: string }> {
    const assertion = form.get('client_assertion') ?? '';
    const clientId = form.get('client_id') ?? '';
    const currentDate = new Date(clock());
    if (state.federation && clientId === state.federation.agentId) {
      const { protectedHeader } = await jwtVerify(assertion, state.federation.publicKey, {
        issuer: state.federation.issuer,
        audience: issuer,
        currentDate,
      });
      return { header: protectedHeader, sub: clientId };
    }
    const agent = state.agents.get(clientId);
    if (!agent) throw new Error('unknown client');
    const key = await importJWK(agent.publicJwk, agent.alg);
    const { payload, protectedHeader } = await jwtVerify(assertion, key, {
      algorithms: [agent.alg],
      typ: 'JWT',
      issuer: clientId,
      subject: clientId,
      audience: issuer,
      currentDate,
      requiredClaims: ['jti', 'iat', 'exp'],
    });
    if (protectedHeader.kid !== agent.kid) throw new Error('wrong kid');
    if ((payload.exp as number) - (payload.iat as number) !== 60)
      throw new Error('assertion lifetime is not 60 s');
    if (!/^[A-Za-z0-9_-]{22}$/.test(payload.jti as string)) throw new Error('jti is not 128 random bits');
    if (usedAssertionJtis.has(payload.jti as string)) throw new Error('assertion replayed');
    usedAssertionJtis.add(payload.jti as string);
    return { header: protectedHeader, sub: clientId };
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (state.tokenDelayMs > 0) await new Promise((r) => setTimeout(r, state.tokenDelayMs));
    const form = new URLSearchParams(await readBody(req));
    const record = (entry: Omit<RecordedTokenRequest, 'form'>) =>
      state.tokenRequests.push({ form, ...entry });
    const refuse = (status: number, error: string, headers: Record<string, string> = {}, extra = {}) => {
      record({ outcome: 'refused', error, ...extra });
      json(res, status, { error, error_description: `refused: ${error}` }, headers);
    };
    if (state.refuseWith) return refuse(400, state.refuseWith);
    if (req.headers['content-type'] !== 'application/x-www-form-urlencoded')
      return refuse(400, 'invalid_request');
    if (form.get('grant_type') !== 'client_credentials') return refuse(400, 'unsupported_grant_type');
    if (form.get('client_assertion_type') !== JWT_BEARER) return refuse(401, 'invalid_client');
    let assertion: { header: Record<string, unknown>; sub: string };
    try {
      assertion = await verifyAssertion(form);
    } catch (error) {
      return refuse(401, 'invalid_client', {}, { detail: String(error) });
    }
    const assertionClaims = decodeJwt(form.get('client_assertion') ?? '');
    let jkt: string | undefined;
    let proofHeader: Record<string, unknown> | undefined;
    let proofClaims: JWTPayload | undefined;
    const dpop = single(req.headers.dpop);
    if (dpop !== undefined) {
      try {
        const verified = await jwtVerify(dpop, EmbeddedJWK, {
          typ: 'dpop+jwt',
          algorithms: ['ES256'],
          currentDate: new Date(clock()),
          maxTokenAge: 60,
          requiredClaims: ['jti', 'htm', 'htu', 'iat'],
        });
        proofHeader = verified.protectedHeader;
        proofClaims = verified.payload;
        if (proofClaims.htm !== 'POST' || proofClaims.htu !== `${issuer}/token`) throw new Error('htm/htu');
        if (proofClaims.ath !== undefined) throw new Error('ath on a token request');
        jkt = await calculateJwkThumbprint(proofHeader.jwk as JWK, 'sha256');
      } catch {
        return refuse(400, 'invalid_dpop_proof');
      }
      if (state.tokenNonce !== undefined && proofClaims.nonce !== state.tokenNonce) {
        const extra = { assertionHeader: assertion.header, assertionClaims, proofHeader, proofClaims };
        return refuse(400, 'use_dpop_nonce', { 'dpop-nonce': state.nonceHint ?? state.tokenNonce }, extra);
      }
    }
    const now = Math.floor(clock() / 1000);
    const scope = form.get('scope') ?? undefined;
    const resources = form.getAll('resource');
    const claims: JWTPayload = {
      iss: issuer,
      sub: assertion.sub,
      aud: resources.length === 0 ? 'https://api.example' : resources,
      iat: now,
      exp: now + state.tokenLifetimeSeconds,
      jti: randomBytes(12).toString('base64url'),
      client_id: assertion.sub,
      ...(scope === undefined ? {} : { scope }),
      ...(jkt === undefined ? {} : { cnf: { jkt } }),
    };
    const accessToken = await state.mint(claims);
    record({
      outcome: 'issued',
      assertionHeader: assertion.header,
      assertionClaims,
      proofHeader,
      proofClaims,
    });
    json(res, 200, {
      access_token: accessToken,
      token_type: jkt === undefined ? 'Bearer' : 'DPoP',
      expires_in: state.tokenLifetimeSeconds,
      ...(scope === undefined ? {} : { scope }),
    });
  }

  async function resource(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = `${issuer}${req.url ?? '/'}`;
    const authorization = single(req.headers.authorization);
    const record = (entry: Partial<RecordedResourceRequest>) =>
      state.resourceRequests.push({ method: req.method ?? '', url, body, authorization, ...entry });
    const match = /^(DPoP|Bearer) (.+)$/.exec(authorization ?? '');
    if (!match) {
      record({ error: 'no token' });
      return json(res, 401, { error: 'invalid_token' });
    }
    const [, scheme, accessToken] = match as unknown as [string, string, string];
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(accessToken, (header) => {
        const found = state.keys.find((k) => k.kid === header.kid);
        if (!found) throw new Error('unknown kid');
        return found.publicKey;
      }));
    } catch (error) {
      record({ error: String(error) });
      return json(res, 401, { error: 'invalid_token' });
    }
    if (scheme === 'Bearer') {
      record({});
      return json(res, 200, { sub: claims.sub, scheme, body });
    }
    try {
      const { payload, protectedHeader } = await jwtVerify(single(req.headers.dpop) ?? '', EmbeddedJWK, {
        typ: 'dpop+jwt',
        algorithms: ['ES256'],
        maxTokenAge: 60,
      });
      const expectedAth = createHash('sha256').update(accessToken).digest('base64url');
      const expectedHtu = url.split('?')[0];
      const jkt = await calculateJwkThumbprint(protectedHeader.jwk as JWK, 'sha256');
      if (payload.htm !== req.method) throw new Error('htm');
      if (payload.htu !== expectedHtu) throw new Error(`htu ${String(payload.htu)} != ${expectedHtu}`);
      if (payload.ath !== expectedAth) throw new Error('ath');
      if (jkt !== (claims.cnf as { jkt?: string } | undefined)?.jkt) throw new Error('jkt');
      if (state.resourceNonce !== undefined && payload.nonce !== state.resourceNonce) {
        record({ proofClaims: payload, error: 'use_dpop_nonce' });
        res.writeHead(401, {
          'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="nonce required"',
          'dpop-nonce': state.nonceHint ?? state.resourceNonce,
        });
        return void res.end();
      }
      record({ proofClaims: payload });
      return json(res, 200, { sub: claims.sub, scheme, body });
    } catch (error) {
      record({ error: String(error) });
      return json(res, 401, { error: 'invalid_dpop_proof' });
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/.well-known/oauth-authorization-server') {
      return json(res, 200, {
        issuer: state.metadataIssuer ?? issuer,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        introspection_endpoint: `${issuer}/introspect`,
        revocation_endpoint: `${issuer}/revoke`,
        dpop_signing_alg_values_supported: ['ES256', 'EdDSA'],
      });
    }
    if (req.method === 'GET' && path === '/jwks') {
      state.jwksFetches++;
      return json(res, 200, { keys: state.keys.map((k) => k.publicJwk) });
    }
    if (req.method === 'POST' && path === '/token') return token(req, res);
    if (path?.startsWith('/resource/')) return resource(req, res);
    json(res, 404, { error: 'not_found' });
  }

  return state;
}
