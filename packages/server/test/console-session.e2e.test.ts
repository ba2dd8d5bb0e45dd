import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DIALECTS } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

type Json = Record<string, unknown>;

/** A browser-like client: keeps the session cookie and sends the CSRF token it was given. */
class CookieClient {
  cookie: string | null = null;
  csrf: string | null = null;
  constructor(readonly t: TestServer) {}

  async call(
    method: string,
    path: string,
    options: { body?: unknown; csrf?: string | null; origin?: string } = {},
  ): Promise<{ status: number; headers: Headers; body: Json }> {
    const headers: Record<string, string> = {};
    if (this.cookie) headers.cookie = this.cookie;
    const csrf = options.csrf === undefined ? this.csrf : options.csrf;
    if (csrf) headers['x-csrf-token'] = csrf;
    if (options.origin) headers.origin = options.origin;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.t.url}${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await res.text();
    const body = text && /json/.test(res.headers.get('content-type') ?? '') ? (JSON.parse(text) as Json) : {};
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) {
      const [pair] = setCookie.split(';');
      this.cookie = pair?.endsWith('=') ? null : (pair ?? null);
    }
    if (typeof body.csrfToken === 'string') this.csrf = body.csrfToken;
    return { status: res.status, headers: res.headers, body };
  }
}

for (const dialect of DIALECTS) {
  describe(`console sessions (${dialect})`, () => {
    let t: TestServer;
    let auditorToken: string;

    before(async () => {
      t = await startTestServer(dialect);
      await t.api('POST', '/api/v1/users', { body: { email: 'ann@example.com', name: 'Ann' } });
      await t.api('POST', '/api/v1/users', { body: { email: 'ben@example.com', name: 'Ben' } });
      await t.api('POST', '/api/v1/agents', { body: { name: 'ann-bot', owner: 'ann@example.com' } });
      await t.api('POST', '/api/v1/agents', { body: { name: 'ben-bot', owner: 'ben@example.com' } });
      auditorToken = String(
        (await t.api('POST', '/api/v1/tokens', { body: { name: 'aud', role: 'auditor' } })).body.token,
      );
    });
    after(() => t.close());

    it('signs in with an admin token: HttpOnly SameSite=Strict cookie, CSRF on changes, sign-out', async () => {
      const c = new CookieClient(t);
      const signIn = await c.call('POST', '/api/v1/session', { body: { token: t.adminToken } });
      assert.equal(signIn.status, 201, JSON.stringify(signIn.body));
      const setCookie = signIn.headers.get('set-cookie') ?? '';
      assert.match(setCookie, /^custos_session=cst_ses_[0-9A-Za-z]+;/);
      assert.match(setCookie, /HttpOnly/);
      assert.match(setCookie, /SameSite=Strict/);
      assert.match(setCookie, /Path=\//);
      assert.doesNotMatch(setCookie, /Secure/, 'no Secure flag over plain http');
      assert.equal(signIn.body.method, 'token');
      assert.equal((signIn.body.actor as Json).role, 'admin');
      assert.equal(typeof signIn.body.csrfToken, 'string');

      const me = await c.call('GET', '/api/v1/session');
      assert.equal(me.status, 200);
      assert.equal(me.body.csrfToken, signIn.body.csrfToken);

      const noCsrf = await c.call('POST', '/api/v1/teams', { body: { name: 'nocsrf' }, csrf: null });
      assert.equal(noCsrf.status, 403);
      assert.match(String(noCsrf.body.detail), /x-csrf-token/);
      const wrongCsrf = await c.call('POST', '/api/v1/teams', {
        body: { name: 'nocsrf' },
        csrf: 'x'.repeat(43),
      });
      assert.equal(wrongCsrf.status, 403);
      const crossOrigin = await c.call('POST', '/api/v1/teams', {
        body: { name: 'nocsrf' },
        origin: 'https://evil.example',
      });
      assert.equal(crossOrigin.status, 403);
      assert.equal((await t.api('GET', '/api/v1/teams')).body.items?.length, 0, 'nothing was created');

      const ok = await c.call('POST', '/api/v1/teams', { body: { name: 'withcsrf' }, origin: t.url });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));

      const events = await t.api('GET', '/api/v1/audit/events?action=session.create');
      assert.equal(events.body.items?.length, 1);

      const cookie = c.cookie;
      const out = await c.call('DELETE', '/api/v1/session');
      assert.equal(out.status, 204);
      assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
      c.cookie = cookie; // a stolen copy of the cookie is useless after sign-out
      assert.equal((await c.call('GET', '/api/v1/session')).status, 401);
    });

    it('ends a token session when its token is revoked', async () => {
      const created = await t.api('POST', '/api/v1/tokens', { body: { name: 'short', role: 'admin' } });
      const c = new CookieClient(t);
      assert.equal(
        (await c.call('POST', '/api/v1/session', { body: { token: created.body.token } })).status,
        201,
      );
      assert.equal((await c.call('GET', '/api/v1/agents')).status, 200);
      await t.api('DELETE', `/api/v1/tokens/${created.body.id}`);
      assert.equal((await c.call('GET', '/api/v1/agents')).status, 401);
    });

    it('refuses a cross-origin sign-in and a bad token, and answers who-am-I for bearer tokens', async () => {
      const c = new CookieClient(t);
      const cross = await c.call('POST', '/api/v1/session', {
        body: { token: t.adminToken },
        origin: 'https://evil.example',
      });
      assert.equal(cross.status, 403);
      assert.equal(c.cookie, null);
      const bad = await c.call('POST', '/api/v1/session', { body: { token: 'cst_pat_nope' } });
      assert.equal(bad.status, 401);
      const both = await c.call('POST', '/api/v1/session', { body: { token: t.adminToken, password: 'x' } });
      assert.equal(both.status, 400);
      const me = await t.api('GET', '/api/v1/session', { token: auditorToken });
      assert.equal(me.body.method, 'bearer');
      assert.equal((me.body.actor as Json).role, 'auditor');
      assert.equal(me.body.csrfToken, null);
    });

    it('password accounts: admin sets them, argon2id, roles apply, same error for unknown user and wrong password', async () => {
      const short = await t.api('POST', '/api/v1/users/ann@example.com/password', {
        body: { password: 'short' },
      });
      assert.equal(short.status, 400);
      assert.match(String(short.body.detail), /at least 12/);
      const byAuditor = await t.api('POST', '/api/v1/users/ann@example.com/password', {
        body: { password: 'correct horse battery' },
        token: auditorToken,
      });
      assert.equal(byAuditor.status, 403);
      const set = await t.api('POST', '/api/v1/users/ann@example.com/password', {
        body: { password: 'correct horse battery', role: 'owner' },
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.equal(set.body.role, 'owner');
      const stored = await t.server.store.console.passwords.get(String(set.body.userId));
      assert.match(stored?.passwordHash ?? '', /^\$argon2id\$v=19\$/);
      assert.doesNotMatch(
        JSON.stringify((await t.api('GET', '/api/v1/audit/events?limit=500')).body),
        /horse/,
      );

      const ann = new CookieClient(t);
      const signIn = await ann.call('POST', '/api/v1/session', {
        body: { email: 'ANN@example.com', password: 'correct horse battery' },
      });
      assert.equal(signIn.status, 201, JSON.stringify(signIn.body));
      assert.deepEqual(signIn.body.actor, {
        type: 'user',
        id: set.body.userId,
        role: 'owner',
        userId: set.body.userId,
      });
      const agents = await ann.call('GET', '/api/v1/agents');
      assert.deepEqual(
        (agents.body.items as Json[]).map((a) => a.name),
        ['ann-bot'],
      );
      const created = await ann.call('POST', '/api/v1/agents', {
        body: { name: 'ann-second', owner: 'ann@example.com' },
      });
      assert.equal(created.status, 201);
      const event = (await t.api('GET', `/api/v1/audit/events?target=${created.body.id}`)).body
        .items?.[0] as Json;
      assert.deepEqual(event.actor, { type: 'user', id: set.body.userId });

      const wrong = await new CookieClient(t).call('POST', '/api/v1/session', {
        body: { email: 'ann@example.com', password: 'wrong horse battery' },
      });
      const unknown = await new CookieClient(t).call('POST', '/api/v1/session', {
        body: { username: 'nobody@example.com', password: 'wrong horse battery' },
      });
      const noPassword = await new CookieClient(t).call('POST', '/api/v1/session', {
        body: { email: 'ben@example.com', password: 'wrong horse battery' },
      });
      for (const r of [wrong, unknown, noPassword]) {
        assert.equal(r.status, 401);
        assert.equal(r.body.detail, 'wrong email or password');
      }

      // a new password ends the sessions opened with the old one
      await t.api('POST', '/api/v1/users/ann@example.com/password', {
        body: { password: 'another long password', role: 'auditor' },
      });
      assert.equal((await ann.call('GET', '/api/v1/session')).status, 401);
    });

    it('throttles failed sign-ins per account, also for accounts that do not exist', async () => {
      await t.api('POST', '/api/v1/users', { body: { email: 'dan@example.com', name: 'Dan' } });
      await t.api('POST', '/api/v1/users/dan@example.com/password', {
        body: { password: 'dan has a password' },
      });
      for (const login of ['dan@example.com', 'ghost@example.com']) {
        const statuses: number[] = [];
        let last: { status: number; headers: Headers; body: Json } | undefined;
        for (let i = 0; i < 6; i++) {
          last = await new CookieClient(t).call('POST', '/api/v1/session', {
            body: { email: login, password: 'not the password' },
          });
          statuses.push(last.status);
        }
        assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429], login);
        assert.ok(Number(last?.headers.get('retry-after')) > 0);
        assert.equal(last?.body.type, 'urn:custos:problem:rate-limited');
      }
      // locked: even the right password is refused until the lock ends
      const locked = await new CookieClient(t).call('POST', '/api/v1/session', {
        body: { email: 'dan@example.com', password: 'dan has a password' },
      });
      assert.equal(locked.status, 429);
      const refusals = await t.api('GET', '/api/v1/audit/events?action=session.refuse&limit=500');
      assert.ok((refusals.body.items?.length ?? 0) >= 10);
    });

    it('audit export (JSON lines, CSV, OCSF, filtered) and online verification', async () => {
      const jsonl = await fetch(`${t.url}/api/v1/audit/export?action=agent.create`, {
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      assert.equal(jsonl.status, 200);
      assert.match(
        jsonl.headers.get('content-disposition') ?? '',
        /attachment; filename="custos-audit-.+\.jsonl"/,
      );
      const lines = (await jsonl.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Json);
      assert.ok(lines.length >= 2);
      assert.ok(lines.every((e) => e.action === 'agent.create'));
      const csv = await (
        await fetch(`${t.url}/api/v1/audit/export?format=csv&action=agent.create`, {
          headers: { authorization: `Bearer ${t.adminToken}` },
        })
      ).text();
      assert.match(csv, /^seq,id,at,/);
      assert.equal(csv.trim().split('\r\n').length, lines.length + 1);
      const ocsf = await (
        await fetch(`${t.url}/api/v1/audit/export?format=ocsf&action=agent.create`, {
          headers: { authorization: `Bearer ${t.adminToken}` },
        })
      ).text();
      assert.equal((JSON.parse(ocsf.split('\n')[0] ?? '{}') as Json).class_uid, 6003);
      await t.api('POST', '/api/v1/audit/checkpoints', {});
      const verified = await t.api('GET', '/api/v1/audit/verify');
      assert.equal(verified.status, 200, JSON.stringify(verified.body));
      assert.equal(verified.body.ok, true);
      assert.ok(Number(verified.body.checkpointsChecked) >= 1);
      const owner = String(
        (
          await t.api('POST', '/api/v1/tokens', {
            body: { name: 'ann-owner', role: 'owner', user: 'ann@example.com' },
          })
        ).body.token,
      );
      assert.equal((await t.api('GET', '/api/v1/audit/verify', { token: owner })).status, 403);
      assert.equal((await t.api('GET', '/api/v1/audit/export', { token: owner })).status, 403);
    });

    it('dashboard: counts for admins, own agents only and no audit data for owners', async () => {
      const all = await t.api('GET', '/api/v1/dashboard');
      assert.equal(all.status, 200, JSON.stringify(all.body));
      const agents = all.body.agents as Json;
      assert.equal(agents.total, 3);
      assert.deepEqual(agents.byStatus, { active: 3 });
      assert.equal(((all.body.activity as Json).tokens as unknown[]).length, 14);
      assert.ok(Array.isArray(all.body.recentDenials));
      const owner = String(
        (
          await t.api('POST', '/api/v1/tokens', {
            body: { name: 'ben-owner', role: 'owner', user: 'ben@example.com' },
          })
        ).body.token,
      );
      const mine = await t.api('GET', '/api/v1/dashboard', { token: owner });
      assert.equal((mine.body.agents as Json).total, 1);
      assert.equal(mine.body.activity, null);
      assert.equal(mine.body.recentDenials, null);
    });
  });
}

describe('console session cookie over TLS', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('sqlite', { issuer: 'https://custos.example' });
  });
  after(() => t.close());

  it('is Secure with the __Host- prefix when the issuer is https', async () => {
    const res = await fetch(`${t.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://custos.example' },
      body: JSON.stringify({ token: t.adminToken }),
    });
    assert.equal(res.status, 201);
    const setCookie = res.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^__Host-custos_session=cst_ses_/);
    assert.match(setCookie, /; Secure/);
    assert.match(setCookie, /HttpOnly/);
  });
});

/** `custos user set-password` with the password on standard input (never in the arguments). */
function setPasswordWithCli(t: TestServer, args: readonly string[], stdin: string) {
  const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, CUSTOS_URL: t.url, CUSTOS_TOKEN: t.adminToken };
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'user', 'set-password', ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('custos user set-password', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('sqlite');
    await t.api('POST', '/api/v1/users', { body: { email: 'eve@example.com', name: 'Eve' } });
  });
  after(() => t.close());

  it('reads the password from standard input and sets the role; the account can then sign in', async () => {
    const run = await setPasswordWithCli(
      t,
      ['eve@example.com', '--role', 'auditor', '--json'],
      'piped password 123\n',
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as Json).role, 'auditor');
    const signIn = await new CookieClient(t).call('POST', '/api/v1/session', {
      body: { email: 'eve@example.com', password: 'piped password 123' },
    });
    assert.equal(signIn.status, 201);
    assert.equal((signIn.body.actor as Json).role, 'auditor');
    const bad = await setPasswordWithCli(t, ['eve@example.com', '--role', 'root'], 'whatever password\n');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown role `root`/);
  });
});
