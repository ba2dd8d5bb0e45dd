/**
 * Fail closed: when the audit store cannot be written, every audited request
 * fails (503 on the admin API, `temporarily_unavailable` on the token endpoint),
 * nothing it would have changed is kept, and the service recovers by itself
 * once the store takes writes again. SQLite: a read-only and a full database
 * (fault injection on the server's own write connections). PostgreSQL: the
 * server's connections cut and its role refused at login, and INSERT on
 * `audit_events` revoked.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import pg from 'pg';
import { readAllEvents, verifyChain } from '../src/audit/index.js';
import { injectSqliteWriteFault, type SqliteWriteFault } from '../src/storage/index.js';
import { POSTGRES_URL } from './support/databases.js';
import {
  createAgent,
  type Json,
  postForm,
  signAssertion,
  type TestAgent,
  tokenForm,
} from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

const UNAVAILABLE = 'urn:custos:problem:unavailable';

interface Attempt {
  readonly name: string;
  /** Sends the request; returns its status and body. */
  send(): Promise<{ status: number; body: Json; headers: Headers }>;
}

/** Everything an audited request could have changed, to compare before and after. */
async function snapshot(t: TestServer) {
  const store = t.server.store;
  const [users, agents, tokens, head] = await Promise.all([
    store.users.list({ limit: 500 }),
    store.agents.list({ limit: 500 }),
    store.adminTokens.list({ limit: 500 }),
    store.auditLog.head(),
  ]);
  return {
    users: users.items.map((u) => `${u.id}:${u.name}`),
    agents: agents.items.map((a) => `${a.id}:${a.status}:${a.purpose}`),
    tokens: tokens.items.map((k) => `${k.id}:${k.revokedAt}`),
    head,
  };
}

/**
 * The audited requests of the test: admin changes of every kind, and a token
 * grant. `big`: only requests whose rows need new pages (overflow pages of a
 * ~30 kB agent row), which a full database cannot give, so each must fail.
 */
function attempts(t: TestServer, agent: TestAgent, big = false): Attempt[] {
  const tag = randomBytes(4).toString('hex');
  const api = (method: string, path: string, body: unknown) => () => t.api(method, path, { body });
  if (big) {
    const audiences = Array.from({ length: 20 }, (_, i) => `https://${'a'.repeat(1500)}.example/${tag}/${i}`);
    return [
      {
        name: 'create agent',
        send: api('POST', '/api/v1/agents', {
          name: `bot-${tag}`,
          owner: 'owner@example.com',
          allowedAudiences: audiences,
        }),
      },
      {
        name: 'update agent',
        send: api('PATCH', `/api/v1/agents/${agent.id}`, { allowedAudiences: audiences }),
      },
    ];
  }
  return [
    { name: 'create user', send: api('POST', '/api/v1/users', { email: `u-${tag}@example.com`, name: 'U' }) },
    { name: 'create team', send: api('POST', '/api/v1/teams', { name: `team-${tag}`, description: 'x' }) },
    {
      name: 'create agent',
      send: api('POST', '/api/v1/agents', { name: `bot-${tag}`, owner: 'owner@example.com' }),
    },
    { name: 'update agent', send: api('PATCH', `/api/v1/agents/${agent.id}`, { purpose: `p-${tag}` }) },
    { name: 'suspend agent', send: api('POST', `/api/v1/agents/${agent.id}/suspend`, { reason: 'drill' }) },
    { name: 'issue admin token', send: api('POST', '/api/v1/tokens', { name: `t-${tag}`, role: 'auditor' }) },
    {
      name: 'token grant',
      send: async () =>
        postForm(`${t.url}/oauth/token`, tokenForm(agent.id, await signAssertion(t.url, agent))),
    },
  ];
}

/** Every request must fail closed with the right error (the caller checks that nothing was kept). */
async function assertAllRefused(list: readonly Attempt[]): Promise<void> {
  for (const a of list) {
    const r = await a.send();
    assert.equal(r.status, 503, `${a.name}: ${JSON.stringify(r.body)}`);
    if (a.name === 'token grant') {
      assert.equal(r.body.error, 'temporarily_unavailable', a.name);
      assert.equal(r.body.access_token, undefined);
    } else {
      assert.equal(r.body.type, UNAVAILABLE, a.name);
      assert.equal(r.headers.get('retry-after'), '1');
    }
  }
}

/** After recovery: every request succeeds and has its audit event, and the chain verifies. */
async function assertRecovered(t: TestServer, agent: TestAgent): Promise<void> {
  // resume first so the token grant and the suspension can both succeed again
  const store = t.server.store;
  for (const a of attempts(t, agent)) {
    if (a.name === 'suspend agent') continue;
    const r = await a.send();
    assert.ok(
      r.status === 200 || r.status === 201,
      `${a.name} after recovery: ${r.status} ${JSON.stringify(r.body)}`,
    );
    const requestId = r.headers.get('x-request-id');
    if (a.name === 'token grant') {
      const jti = jose.decodeJwt(String(r.body.access_token)).jti;
      const issued = await store.audit.list({
        limit: 5,
        action: 'token.issue',
        agentId: agent.id,
        q: String(jti),
      });
      assert.equal(issued.items.length, 1, 'the token has its record');
    } else {
      const events = await store.audit.list({ limit: 5, q: String(requestId) });
      assert.equal(events.items.length, 1, `${a.name} has its audit event`);
    }
  }
  const report = await verifyChain(readAllEvents(store));
  assert.equal(report.ok, true, JSON.stringify(report));
}

describe('fail closed when the audit store cannot be written (sqlite)', { timeout: 120_000 }, () => {
  let t: TestServer;
  let agent: TestAgent;
  let path: string;
  before(async () => {
    t = await startTestServer('sqlite');
    path = t.config.databaseUrl.slice('sqlite:'.length);
    await t.api('POST', '/api/v1/users', { body: { email: 'owner@example.com', name: 'Owner' } });
    agent = await createAgent(t, 'owner@example.com', { scopes: ['read'] });
    const warm = await postForm(
      `${t.url}/oauth/token`,
      tokenForm(agent.id, await signAssertion(t.url, agent)),
    );
    assert.equal(warm.status, 200, JSON.stringify(warm.body));
  });
  after(async () => {
    await injectSqliteWriteFault(path, null);
    await t.close();
  });

  for (const fault of ['read_only', 'disk_full'] satisfies SqliteWriteFault[]) {
    it(`answers 503 to every audited request while the database is ${fault}, keeps nothing, then recovers`, async () => {
      const before = await snapshot(t);
      await injectSqliteWriteFault(path, fault);
      try {
        await assertAllRefused(attempts(t, agent, fault === 'disk_full'));
        assert.deepEqual(await snapshot(t), before, 'nothing was kept');
        // reading (and reading the audit log) still works during the outage
        assert.equal((await t.api('GET', '/api/v1/agents')).status, 200);
        assert.equal((await t.api('GET', '/api/v1/audit/events?limit=1')).status, 200);
        if (fault === 'disk_full') {
          // small writes may still fit in pages the database already has: whatever
          // succeeds must have its record, whatever fails must leave nothing
          for (const a of attempts(t, agent, false)) {
            if (a.name === 'suspend agent') continue; // the token grants after it need the agent active
            const before = await snapshot(t);
            const r = await a.send();
            if (r.status === 503) assert.deepEqual(await snapshot(t), before, `${a.name} left nothing`);
            else {
              assert.ok(r.status < 300, `${a.name}: ${r.status}`);
              const events = await t.server.store.audit.list({
                limit: 5,
                q: String(r.headers.get('x-request-id')),
              });
              if (a.name !== 'token grant') assert.equal(events.items.length, 1, `${a.name} has its record`);
            }
          }
        }
      } finally {
        await injectSqliteWriteFault(path, null);
      }
      await assertRecovered(t, agent);
    });
  }
});

/** A PostgreSQL role of its own, so its connections can be cut without touching anyone else's. */
async function isolatedRole() {
  const role = `custos_fc_${randomBytes(5).toString('hex')}`;
  const schema = `${role}_s`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  const database = new URL(POSTGRES_URL).pathname.slice(1);
  await admin.query(`CREATE ROLE ${role} LOGIN`);
  await admin.query(`GRANT CREATE ON DATABASE "${database}" TO ${role}`);
  await admin.query(`CREATE SCHEMA ${schema} AUTHORIZATION ${role}`);
  const url = new URL(POSTGRES_URL);
  url.username = role;
  url.searchParams.set('schema', schema);
  return {
    url: url.toString(),
    async sql(text: string): Promise<void> {
      await admin.query(text.replaceAll('$role', role).replaceAll('$schema', schema));
    },
    async drop(): Promise<void> {
      await admin.query(`ALTER ROLE ${role} LOGIN`);
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.query(`REVOKE CREATE ON DATABASE "${database}" FROM ${role}`);
      await admin.query(`DROP OWNED BY ${role}`);
      await admin.query(`DROP ROLE ${role}`);
      await admin.end();
    },
  };
}

describe('fail closed when the audit store cannot be written (postgres)', { timeout: 120_000 }, () => {
  let t: TestServer;
  let agent: TestAgent;
  let role: Awaited<ReturnType<typeof isolatedRole>>;
  before(async () => {
    role = await isolatedRole();
    t = await startTestServer('postgres', { databaseUrl: role.url });
    await t.api('POST', '/api/v1/users', { body: { email: 'owner@example.com', name: 'Owner' } });
    agent = await createAgent(t, 'owner@example.com', { scopes: ['read'] });
  });
  after(async () => {
    await t.close();
    await role.drop();
  });

  it('answers 503 to everything while its connections are cut and logins refused, then recovers', async () => {
    const before = await snapshot(t);
    await role.sql('ALTER ROLE $role NOLOGIN');
    await role.sql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '$role' AND pid <> pg_backend_pid()",
    );
    try {
      await assertAllRefused(attempts(t, agent, false));
      // even reads: the database cannot be reached, and nothing is served from a stale guess
      const read = await t.api('GET', '/api/v1/agents');
      assert.equal(read.status, 503);
      assert.equal(read.body.type, UNAVAILABLE);
    } finally {
      await role.sql('ALTER ROLE $role LOGIN');
    }
    assert.deepEqual(await snapshot(t), before, 'nothing was kept');
    await assertRecovered(t, agent);
  });

  it('answers 503 to every audited request while INSERT on audit_events is revoked, keeping nothing', async () => {
    await role.sql('REVOKE INSERT ON $schema.audit_events FROM $role');
    try {
      const before = await snapshot(t);
      for (const a of attempts(t, agent, false)) {
        const r = await a.send();
        assert.equal(r.status, 503, `${a.name}: ${JSON.stringify(r.body)}`);
      }
      assert.deepEqual(await snapshot(t), before, 'nothing was kept');
      // reads are unaffected
      assert.equal((await t.api('GET', '/api/v1/audit/events?limit=1')).status, 200);
    } finally {
      await role.sql('GRANT INSERT ON $schema.audit_events TO $role');
    }
    await assertRecovered(t, agent);
  });
});
