/**
 * No secret in the audit log or in the logs: a spawned `custos serve` (debug
 * logging, a live audit sink) runs a scenario that handles every kind of
 * secret — admin tokens, access tokens, client assertions, DPoP proofs,
 * vault secrets, the master key, the sink secret — including refused and
 * replayed requests. Afterwards every audit event (read from the database),
 * every forwarded sink delivery, the checkpoint file and every log line are
 * scanned for each secret in its raw, base64, base64url and hex forms.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';
import { readAllEvents } from '../src/audit/index.js';
import { generateAdminToken } from '../src/identity/index.js';
import { openStore } from '../src/storage/index.js';
import {
  dpopProof,
  type Json,
  newKeyPair,
  postForm,
  rawPost,
  signAssertion,
  type TestAgent,
  tokenForm,
} from './support/oauth-client.js';
import { freePort } from './support/server.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/** The forms a leaked secret could take in text: raw, base64, base64url, hex (and a JWT's signature alone). */
function forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const out = [secret, bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')];
  const parts = secret.split('.');
  if (parts.length === 3 && (parts[2] ?? '').length >= 20) out.push(parts[2] as string);
  // a base64 secret (the master key) may also show up as its decoded bytes in hex or base64url
  if (/^[A-Za-z0-9+/]{40,}={0,2}$/.test(secret)) {
    const decoded = Buffer.from(secret, 'base64');
    out.push(decoded.toString('hex'), decoded.toString('base64url'));
  }
  return out.filter((f) => f.length >= 16);
}

describe('no secret reaches the audit log or the logs', { timeout: 180_000 }, () => {
  let dataDir: string;
  let url: string;
  let server: ChildProcess;
  let log = '';
  let sink: Server;
  const deliveries: string[] = [];
  const adminToken = generateAdminToken();
  const masterKey = randomBytes(32).toString('base64');
  const sinkSecret = `sink-${randomBytes(24).toString('hex')}`;
  /** Every secret the scenario handled, with what it was. */
  const secrets: { what: string; value: string }[] = [
    { what: 'bootstrap admin token', value: adminToken },
    { what: 'master key', value: masterKey },
    { what: 'audit sink secret', value: sinkSecret },
  ];

  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
    dataDir = await mkdtemp(join(tmpdir(), 'custos-scan-'));
    sink = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        deliveries.push(body, JSON.stringify(req.headers));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CUSTOS_')) env[k] = v;
    delete env.NODE_TEST_CONTEXT;
    server = spawn(
      process.execPath,
      [CLI, 'serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'debug'],
      {
        env: {
          ...env,
          CUSTOS_BOOTSTRAP_TOKEN: adminToken,
          CUSTOS_MASTER_KEY: masterKey,
          CUSTOS_AUDIT_SINK_WEBHOOK: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/audit`,
          CUSTOS_AUDIT_SINK_SECRET: sinkSecret,
          CUSTOS_AUDIT_SINK_INTERVAL_MS: '100',
          CUSTOS_AUDIT_CHECKPOINT_SECONDS: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    server.stdout?.setEncoding('utf8').on('data', (c: string) => {
      log += c;
    });
    server.stderr?.setEncoding('utf8').on('data', (c: string) => {
      log += c;
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetch(`${url}/readyz`)).ok) break;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) assert.fail(`server not ready\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => {
    if (server.exitCode === null) server.kill('SIGKILL');
    await new Promise<void>((resolve) => sink.close(() => resolve()));
    await rm(dataDir, { recursive: true, force: true });
  });

  const api = async (method: string, path: string, body?: unknown, token = adminToken) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as Json };
  };

  it('runs a scenario with every kind of secret, then finds none of them anywhere', async () => {
    // admin tokens of every role
    assert.equal(
      (await api('POST', '/api/v1/users', { email: 'owner@example.com', name: 'Owner' })).status,
      201,
    );
    const tokens: Record<string, string> = {};
    for (const role of ['admin', 'auditor', 'resource_server'] as const) {
      const r = await api('POST', '/api/v1/tokens', { name: `scan-${role}`, role });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      tokens[role] = String(r.body.token);
      secrets.push({ what: `${role} admin token`, value: tokens[role] as string });
    }
    const owner = await api('POST', '/api/v1/tokens', {
      name: 'scan-owner',
      role: 'owner',
      user: 'owner@example.com',
    });
    secrets.push({ what: 'owner admin token', value: String(owner.body.token) });
    const revoked = await api('POST', '/api/v1/tokens', { name: 'scan-revoked', role: 'auditor' });
    secrets.push({ what: 'revoked admin token', value: String(revoked.body.token) });
    assert.equal((await api('DELETE', `/api/v1/tokens/${revoked.body.id}`)).status, 200);
    // a revoked and a malformed token presented anyway
    assert.equal((await api('GET', '/api/v1/agents', undefined, String(revoked.body.token))).status, 401);
    assert.equal((await api('GET', '/api/v1/agents', undefined, `${adminToken}x`)).status, 401);
    secrets.push({ what: 'malformed admin token', value: `${adminToken}x` });

    // a vault secret, set and rotated
    for (const [verb, value] of [
      ['PUT', `db-password-${randomBytes(12).toString('hex')}`],
      ['POST', `db-password-${randomBytes(12).toString('hex')}`],
    ] as const) {
      const path = verb === 'PUT' ? '/api/v1/secrets/payments.db' : '/api/v1/secrets/payments.db/rotate';
      const r = await api(verb, path, { value });
      assert.ok(r.status < 300, `${verb} secret: ${r.status} ${JSON.stringify(r.body)}`);
      secrets.push({ what: 'vault secret', value });
    }

    // an agent that must use DPoP, with its key
    const created = await api('POST', '/api/v1/agents', {
      name: 'scan-bot',
      owner: 'owner@example.com',
      allowedScopes: ['read'],
      allowedAudiences: ['https://api.example.com'],
      requireDpop: true,
    });
    const keys = await newKeyPair();
    const added = await api('POST', `/api/v1/agents/${created.body.id}/keys`, { jwk: keys.publicJwk });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const agent: TestAgent = { id: String(created.body.id), kid: String(added.body.kid), ...keys };
    const privateJwk = await jose.exportJWK(keys.privateKey);
    secrets.push({ what: 'agent private key (d)', value: String(privateJwk.d) });

    // token grants: good ones, a replayed assertion, a replayed proof, a bad signature, no proof
    const tokenUrl = `${url}/oauth/token`;
    const grant = async (assertion: string, proof: string | null) =>
      rawPost(tokenUrl, tokenForm(agent.id, assertion).toString(), {
        'content-type': 'application/x-www-form-urlencoded',
        ...(proof ? { dpop: proof } : {}),
      });
    const accessTokens: string[] = [];
    for (let i = 0; i < 3; i++) {
      const assertion = await signAssertion(url, agent);
      const proof = await dpopProof(keys, { htu: tokenUrl });
      secrets.push({ what: 'client assertion', value: assertion }, { what: 'DPoP proof', value: proof });
      const r = await grant(assertion, proof);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      accessTokens.push(String(r.body.access_token));
      if (i === 0) {
        const replayed = await grant(assertion, await dpopProof(keys, { htu: tokenUrl }));
        assert.equal(replayed.status, 401, 'a replayed assertion is refused');
        const reproof = await grant(await signAssertion(url, agent), proof);
        assert.equal(reproof.status, 400, 'a replayed proof is refused');
      }
    }
    const other = await newKeyPair();
    const forged = await signAssertion(url, agent, { key: other.privateKey });
    secrets.push({ what: 'forged client assertion', value: forged });
    assert.equal((await grant(forged, await dpopProof(keys, { htu: tokenUrl }))).status, 401);
    const noProof = await signAssertion(url, agent);
    secrets.push({ what: 'client assertion without proof', value: noProof });
    assert.equal((await postForm(tokenUrl, tokenForm(agent.id, noProof))).status, 400);
    for (const t of accessTokens) secrets.push({ what: 'access token', value: t });

    // introspection and revocation of a token
    const introspected = await postForm(
      `${url}/oauth/introspect`,
      new URLSearchParams({ token: accessTokens[0] as string }),
      { authorization: `Bearer ${tokens.resource_server}` },
    );
    assert.equal(introspected.body.active, true, JSON.stringify(introspected.body));
    const revocation = await postForm(
      `${url}/oauth/revoke`,
      new URLSearchParams({ token: accessTokens[1] as string }),
      {
        authorization: `Bearer ${tokens.admin}`,
      },
    );
    assert.equal(revocation.status, 200, JSON.stringify(revocation.body));

    // let the sink and the checkpointer catch up, then stop the server
    await new Promise((r) => setTimeout(r, 1500));
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;

    const store = await openStore(`sqlite:${join(dataDir, 'custos.db')}`);
    const events: string[] = [];
    try {
      for await (const e of readAllEvents(store)) events.push(JSON.stringify(e));
    } finally {
      await store.close();
    }
    const actions = events.map((e) => (JSON.parse(e) as Json).action);
    for (const expected of [
      'admin_token.create',
      'admin_token.revoke',
      'token.issue',
      'token.refuse',
      'token.revoke',
    ]) {
      assert.ok(actions.includes(expected), `the scenario recorded ${expected}`);
    }
    assert.ok(deliveries.length > 0, 'the sink received the log');
    assert.ok(log.split('\n').length > 20, 'the server logged the requests');
    const haystacks = [
      { where: 'audit events', text: events.join('\n') },
      { where: 'sink deliveries', text: deliveries.join('\n') },
      { where: 'checkpoint file', text: await readFile(join(dataDir, 'audit-checkpoints.note'), 'utf8') },
      { where: 'server log', text: log },
    ];
    // positive control: what may be recorded (the token's id, its key thumbprint) is found by the same scan
    const jti = String(jose.decodeJwt(accessTokens[0] as string).jti);
    assert.ok(haystacks[0]?.text.includes(jti) && haystacks[1]?.text.includes(jti), 'token ids are recorded');
    const leaks: string[] = [];
    for (const { what, value } of secrets) {
      for (const form of forms(value)) {
        for (const { where, text } of haystacks)
          if (text.includes(form)) leaks.push(`${what} found in ${where}`);
      }
    }
    assert.deepEqual(leaks, []);
  });
});
