import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentClient, type AgentClientOptions, createAgentClient } from '@custos/sdk';
import * as jose from 'jose';
import * as client from 'openid-client';
import { type Config, loadConfig } from '../../src/config/index.js';
import type { Clock } from '../../src/core/index.js';
import { type RunningServer, startServer } from '../../src/http/index.js';
import { generateAdminToken } from '../../src/identity/index.js';
import { createTestDatabase, type Dialect } from './databases.js';
import { freePort, type TestServer } from './server.js';

export type Json = Record<string, unknown>;
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export const isJson = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A response with its body parsed as JSON when it is JSON. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Json;
}

function parseBody(text: string, contentType: string | null): Json {
  if (!text) return {};
  if (!/json/.test(contentType ?? '')) return { text };
  const parsed: unknown = JSON.parse(text);
  return isJson(parsed) ? parsed : { value: parsed };
}

/** POSTs a form (or any raw body) with `fetch`. */
export async function postForm(
  url: string,
  body: URLSearchParams | string,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: body.toString(),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: parseBody(text, response.headers.get('content-type')),
  };
}

function toHeaders(incoming: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
  }
  return headers;
}

/**
 * POSTs with `node:http`, which (unlike `fetch`) sends an array header value as
 * several header lines: the way to send two `DPoP` headers.
 */
export function rawPost(
  url: string,
  body: string,
  headers: Readonly<Record<string, string | readonly string[]>>,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const h = toHeaders(res.headers);
        resolve({
          status: res.statusCode ?? 0,
          headers: h,
          body: parseBody(Buffer.concat(chunks).toString('utf8'), h.get('content-type')),
        });
      });
    });
    req.on('error', reject);
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.end(body);
  });
}

export const epoch = (): number => Math.floor(Date.now() / 1000);
export const randomJti = (): string => randomBytes(16).toString('base64url');

/** A JWT with whatever header and no signature (`alg: none` style). */
export function unsignedJwt(header: Json, payload: Json): string {
  const b64 = (value: Json) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${b64(header)}.${b64(payload)}.`;
}

export interface KeyPair {
  readonly privateKey: jose.CryptoKey;
  readonly publicKey: jose.CryptoKey;
  readonly publicJwk: jose.JWK;
}

/** A fresh, extractable ES256 key pair with its public JWK. */
export async function newKeyPair(): Promise<KeyPair> {
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
  return { privateKey, publicKey, publicJwk: await jose.exportJWK(publicKey) };
}

export interface TestAgent extends KeyPair {
  readonly id: string;
  /** The kid Custos assigned to the registered key (empty when the agent has no key). */
  readonly kid: string;
}

export interface AgentOptions {
  readonly scopes?: readonly string[];
  readonly audiences?: readonly string[];
  readonly requireDpop?: boolean;
  /** Register a key (default true). */
  readonly withKey?: boolean;
}

let agentCounter = 0;

/** Creates an agent through the admin API and (by default) registers a fresh ES256 public key. */
export async function createAgent(
  t: TestServer,
  owner: string,
  options: AgentOptions = {},
): Promise<TestAgent> {
  agentCounter += 1;
  const created = await t.api('POST', '/api/v1/agents', {
    body: {
      name: `oauth-bot-${agentCounter}-${randomBytes(3).toString('hex')}`,
      owner,
      allowedScopes: options.scopes ?? ['read', 'write'],
      allowedAudiences: options.audiences ?? ['https://api.example.com'],
      ...(options.requireDpop !== undefined ? { requireDpop: options.requireDpop } : {}),
    },
  });
  if (created.status !== 201 || typeof created.body.id !== 'string') {
    throw new Error(`could not create an agent: ${created.status} ${JSON.stringify(created.body)}`);
  }
  const keys = await newKeyPair();
  if (options.withKey === false) return { id: created.body.id, kid: '', ...keys };
  const kid = await registerKey(t, created.body.id, keys.publicJwk);
  return { id: created.body.id, kid, ...keys };
}

/** Registers a public JWK for an agent; returns the kid Custos assigned. */
export async function registerKey(t: TestServer, agentId: string, jwk: jose.JWK): Promise<string> {
  const added = await t.api('POST', `/api/v1/agents/${agentId}/keys`, { body: { jwk } });
  if (added.status !== 201 || typeof added.body.kid !== 'string') {
    throw new Error(`could not register a key: ${added.status} ${JSON.stringify(added.body)}`);
  }
  return added.body.kid;
}

export interface AssertionOptions {
  /** Claims to set or override; a value of `undefined` removes the claim. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Header members to set or override. */
  readonly header?: Readonly<Record<string, unknown>>;
  /** Key to sign with (default: the agent's own). */
  readonly key?: jose.CryptoKey | Uint8Array;
}

/** A `private_key_jwt` client assertion (RFC 7523) for the agent, valid unless overridden. */
export async function signAssertion(
  issuer: string,
  agent: TestAgent,
  options: AssertionOptions = {},
): Promise<string> {
  const now = epoch();
  const payload: Json = {
    iss: agent.id,
    sub: agent.id,
    aud: issuer,
    iat: now,
    exp: now + 60,
    jti: randomJti(),
    ...options.claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  const header = { alg: 'ES256', kid: agent.kid, ...options.header };
  if (typeof header.alg !== 'string') throw new Error('test bug: header.alg must be a string');
  return new jose.SignJWT(payload)
    .setProtectedHeader({ ...header, alg: header.alg })
    .sign(options.key ?? agent.privateKey);
}

/** The form of a client-credentials token request authenticated with `assertion`. */
export function tokenForm(
  clientId: string | null,
  assertion: string,
  extra: Readonly<Record<string, string | readonly string[]>> = {},
): URLSearchParams {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (clientId !== null) form.set('client_id', clientId);
  form.set('client_assertion_type', ASSERTION_TYPE);
  form.set('client_assertion', assertion);
  for (const [name, value] of Object.entries(extra)) {
    if (typeof value === 'string') form.append(name, value);
    else for (const v of value) form.append(name, v);
  }
  return form;
}

export interface ProofOptions {
  readonly htm?: string;
  readonly htu: string;
  readonly iat?: number;
  readonly jti?: string;
  /** Extra or overriding claims. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Header members to set or override (`typ`, `jwk`, `alg`…). */
  readonly header?: Readonly<Record<string, unknown>>;
  /** Key to sign with (default: the key pair's private key). */
  readonly signWith?: jose.CryptoKey;
}

/** A DPoP proof (RFC 9449 §4.2) for the key pair, valid unless overridden. */
export function dpopProof(keys: KeyPair, options: ProofOptions): Promise<string> {
  const payload: Json = {
    htm: options.htm ?? 'POST',
    htu: options.htu,
    iat: options.iat ?? epoch(),
    jti: options.jti ?? randomJti(),
    ...options.claims,
  };
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: keys.publicJwk, ...options.header };
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ ...header, alg: String(header.alg) })
    .sign(options.signWith ?? keys.privateKey);
}

/** A DPoP-bound access token for `resource`, bound to `keys`, and its `ath` for proofs. */
export async function boundToken(
  issuer: string,
  agent: TestAgent,
  keys: KeyPair,
  resource: string,
): Promise<{ token: string; ath: string }> {
  const tokenUrl = `${issuer}/oauth/token`;
  const issued = await fetch(tokenUrl, {
    method: 'POST',
    headers: { dpop: await dpopProof(keys, { htu: tokenUrl }) },
    body: tokenForm(agent.id, await signAssertion(issuer, agent), { resource }),
  });
  const token = ((await issued.json()) as Json).access_token;
  if (typeof token !== 'string') throw new Error(`no token: ${issued.status}`);
  return { token, ath: createHash('sha256').update(token).digest('base64url') };
}

/** A real OAuth client (openid-client) for the agent, and every request body and DPoP header it sent. */
export interface RealClient {
  readonly config: client.Configuration;
  /** Request bodies, DPoP proofs and Authorization values the client sent, in order. */
  readonly sent: string[];
}

/** Wraps `fetch` to record what a real client sends, so tests can look for leaks of it. */
function recordingFetch(sent: string[]): client.CustomFetch {
  return (url, options) => {
    const body = options.body;
    if (body instanceof URLSearchParams) {
      for (const [, value] of body) sent.push(value);
    } else if (typeof body === 'string') sent.push(body);
    for (const [name, value] of Object.entries(options.headers)) {
      if (name.toLowerCase() === 'dpop' || name.toLowerCase() === 'authorization') sent.push(value);
    }
    return fetch(url, options);
  };
}

/** Discovers the server and configures `private_key_jwt` for the agent, as an agent's code would. */
export async function realClient(issuer: string, agent: TestAgent): Promise<RealClient> {
  const sent: string[] = [];
  const config = await client.discovery(
    new URL(issuer),
    agent.id,
    undefined,
    client.PrivateKeyJwt({ key: agent.privateKey, kid: agent.kid }),
    { execute: [client.allowInsecureRequests], algorithm: 'oauth2' },
  );
  config[client.customFetch] = recordingFetch(sent);
  return { config, sent };
}

/**
 * An openid-client configuration that authenticates with an admin bearer token
 * (Custos's introspection and admin revocation), built from discovered metadata.
 */
export function bearerClient(metadata: client.ServerMetadata, bearer: string): client.Configuration {
  const auth: client.ClientAuth = (_as, _client, _body, headers) => {
    headers.set('authorization', `Bearer ${bearer}`);
  };
  const config = new client.Configuration(metadata, 'custos-resource-server', undefined, auth);
  client.allowInsecureRequests(config);
  return config;
}

/** Every audit event matching the query, following `nextCursor`. */
export async function auditEvents(
  t: Pick<TestServer, 'api'>,
  query: { action?: string; target?: string } = {},
): Promise<Json[]> {
  const events: Json[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({ limit: '500' });
    if (query.action) params.set('action', query.action);
    if (query.target) params.set('target', query.target);
    if (cursor) params.set('cursor', cursor);
    const page = await t.api('GET', `/api/v1/audit/events?${params}`);
    if (page.status !== 200)
      throw new Error(`audit list failed: ${page.status} ${JSON.stringify(page.body)}`);
    for (const item of page.body.items ?? []) if (isJson(item)) events.push(item);
    cursor = typeof page.body.nextCursor === 'string' ? page.body.nextCursor : null;
  } while (cursor);
  return events;
}

/** A second node over the same database, data directory (master key) and issuer, on another port. */
export async function startSecondNode(t: TestServer): Promise<RunningServer> {
  const port = await freePort();
  return startServer(Object.freeze({ ...t.config, port }));
}

/** A `TestServer.api` for any base URL and admin token. */
function apiFor(url: string, adminToken: string): TestServer['api'] {
  return async (method, path, options = {}) => {
    const token = options.token === undefined ? adminToken : options.token;
    const headers: Record<string, string> = { ...options.headers };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const response = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    const parsed = parseBody(text, response.headers.get('content-type'));
    return { status: response.status, headers: response.headers, body: parsed };
  };
}

/**
 * Like `startTestServer`, but the server reads time from `clock` (so a test can
 * move past key-publication windows).
 */
export async function startServerWithClock(dialect: Dialect, clock: Clock): Promise<TestServer> {
  const db = await createTestDatabase(dialect);
  const dataDir = await mkdtemp(join(tmpdir(), 'custos-data-'));
  const adminToken = generateAdminToken();
  const loaded = loadConfig({
    env: { CUSTOS_BOOTSTRAP_TOKEN: adminToken },
    flags: { dataDir, databaseUrl: db.url, logLevel: 'silent' },
    cwd: dataDir,
  });
  const port = await freePort();
  const config: Config = Object.freeze({ ...loaded, port, issuer: `http://127.0.0.1:${port}` });
  let server: RunningServer;
  try {
    server = await startServer(config, { clock });
  } catch (error) {
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: server.url,
    adminToken,
    server,
    config,
    api: apiFor(server.url, adminToken),
    async close() {
      await server.close();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The agent SDK's client for a test agent (its registered ES256 key), with any other options. */
export function sdkClientFor(
  issuer: string,
  agent: TestAgent,
  options: Partial<AgentClientOptions> = {},
): AgentClient {
  return createAgentClient({
    issuer,
    agentId: agent.id,
    privateKey: agent.privateKey,
    privateKeyId: agent.kid,
    privateKeyAlg: 'ES256',
    ...options,
  });
}
