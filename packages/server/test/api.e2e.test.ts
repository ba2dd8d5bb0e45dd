import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newId } from '../src/core/index.js';
import { generateAdminToken, hashAdminToken } from '../src/identity/index.js';
import { DIALECTS } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

type Json = Record<string, unknown>;
const DAY = 86_400_000;

/** Everything the store holds, to prove that a refused request changed nothing. */
async function fingerprint(t: TestServer): Promise<string> {
  const s = t.server.store;
  const all = { limit: 500 };
  return JSON.stringify([
    (await s.users.list(all)).items,
    (await s.teams.list(all)).items,
    (await s.agents.list(all)).items,
    (await s.adminTokens.list(all)).items.map((x) => ({ ...x, lastUsedAt: null })),
    (await s.audit.list(all)).items.length,
  ]);
}

/** The same API suite runs on SQLite and on PostgreSQL. */
for (const dialect of DIALECTS) {
  describe(`admin API end to end (${dialect})`, () => {
    let t: TestServer;
    let alice: Json;
    let bob: Json;
    let auditorToken: string;
    let aliceToken: string;
    let bobAgent: Json;

    before(async () => {
      t = await startTestServer(dialect, { bodyLimit: 4096 });
      alice = (await t.api('POST', '/api/v1/users', { body: { email: 'Alice@Example.com', name: 'Alice' } }))
        .body;
      bob = (
        await t.api('POST', '/api/v1/users', {
          body: { email: 'bob@example.com', name: 'Bob', manager: 'alice@example.com' },
        })
      ).body;
      await t.api('POST', '/api/v1/teams', { body: { name: 'payments', description: 'Payments team' } });
      auditorToken = String(
        (await t.api('POST', '/api/v1/tokens', { body: { name: 'audit', role: 'auditor' } })).body.token,
      );
      aliceToken = String(
        (
          await t.api('POST', '/api/v1/tokens', {
            body: { name: 'alice', role: 'owner', user: 'alice@example.com' },
          })
        ).body.token,
      );
      bobAgent = (
        await t.api('POST', '/api/v1/agents', { body: { name: 'bob-bot', owner: 'bob@example.com' } })
      ).body;
    });
    after(() => t.close());

    /** Sends a request that must be refused, and checks status, problem type and that nothing changed. */
    async function refused(
      method: string,
      path: string,
      options: Parameters<TestServer['api']>[2],
      status: number,
      type: string,
      detail?: RegExp,
    ): Promise<Json> {
      const before = await fingerprint(t);
      const res = await t.api(method, path, options);
      assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(res.body.type, `urn:custos:problem:${type}`);
      assert.equal(res.body.status, status);
      assert.equal(typeof res.body.title, 'string');
      assert.equal(res.body.requestId, res.headers.get('x-request-id'));
      if (detail) assert.match(String(res.body.detail), detail);
      assert.equal(await fingerprint(t), before, 'a refused request must not change anything');
      return res.body;
    }

    describe('users and teams', () => {
      it('stores emails lowercased and links managers', () => {
        assert.equal(alice.email, 'alice@example.com');
        assert.match(String(alice.id), /^usr_[0-9a-z]{26}$/);
        assert.equal(bob.managerId, alice.id);
      });

      it('reads users by id or email and searches them', async () => {
        assert.equal((await t.api('GET', `/api/v1/users/${alice.id}`)).body.email, 'alice@example.com');
        assert.equal((await t.api('GET', '/api/v1/users/bob@example.com')).body.id, bob.id);
        const found = await t.api('GET', '/api/v1/users?q=BOB');
        assert.deepEqual(
          found.body.items?.map((u) => (u as Json).id),
          [bob.id],
        );
      });

      it('updates a user and refuses a duplicate email or self-management', async () => {
        const carol = await t.api('POST', '/api/v1/users', {
          body: { email: 'carol@example.com', name: 'Carol' },
        });
        const renamed = await t.api('PATCH', `/api/v1/users/${carol.body.id}`, {
          body: { name: 'Carol C.' },
        });
        assert.equal(renamed.body.name, 'Carol C.');
        await refused(
          'PATCH',
          `/api/v1/users/${carol.body.id}`,
          { body: { email: 'bob@example.com' } },
          409,
          'conflict',
        );
        await refused(
          'PATCH',
          `/api/v1/users/${carol.body.id}`,
          { body: { manager: 'carol@example.com' } },
          400,
          'validation-failed',
          /own manager/,
        );
        await refused(
          'POST',
          '/api/v1/users',
          { body: { email: 'CAROL@example.com', name: 'Dup' } },
          409,
          'conflict',
        );
      });

      it('refuses a duplicate team and lists teams', async () => {
        await refused('POST', '/api/v1/teams', { body: { name: 'payments' } }, 409, 'conflict', /`payments`/);
        const teams = await t.api('GET', '/api/v1/teams');
        assert.deepEqual(
          teams.body.items?.map((x) => (x as Json).name),
          ['payments'],
        );
      });
    });

    describe('agents', () => {
      it('creates an agent with its defaults and an audit event in the same request', async () => {
        const before = Date.now();
        const res = await t.api('POST', '/api/v1/agents', {
          body: {
            name: 'invoice-reader',
            owner: 'alice@example.com',
            team: 'payments',
            tags: { env: 'prod' },
          },
        });
        assert.equal(res.status, 201);
        const a = res.body;
        assert.match(String(a.id), /^agt_[0-9a-z]{26}$/);
        assert.equal(a.status, 'active');
        assert.deepEqual(a.owner, { id: alice.id, email: 'alice@example.com' });
        assert.equal(a.environment, 'default');
        assert.equal(a.riskLevel, 'medium');
        const expires = Date.parse(String(a.expiresAt));
        assert.ok(
          Math.abs(expires - (before + 90 * DAY)) < 60_000,
          `expiresAt ${a.expiresAt} is not ~90 days out`,
        );

        const events = await t.api('GET', `/api/v1/audit/events?target=${a.id}`);
        assert.equal(events.body.items?.length, 1);
        const event = events.body.items?.[0] as Json;
        assert.equal(event.action, 'agent.create');
        assert.equal(event.requestId, res.headers.get('x-request-id'));
        assert.equal((event.actor as Json).type, 'admin_token');
        assert.equal((event.details as Json).ownerId, alice.id);
      });

      it('keeps SQL- and markup-looking strings verbatim', async () => {
        const tricky = `x'); DROP TABLE agents; -- <img src=x onerror=alert(1)> "q" \\ %_`;
        const res = await t.api('POST', '/api/v1/agents', {
          body: { name: tricky, owner: alice.id, purpose: tricky, tags: { note: tricky } },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        const read = await t.api('GET', `/api/v1/agents/${res.body.id}`);
        assert.equal(read.body.name, tricky);
        assert.equal(read.body.purpose, tricky);
        assert.deepEqual(read.body.tags, { note: tricky });
        const search = await t.api('GET', `/api/v1/agents?q=${encodeURIComponent("'); DROP")}`);
        assert.deepEqual(
          search.body.items?.map((x) => (x as Json).id),
          [res.body.id],
        );
      });

      it('searches by owner, team, status, environment, tag and text, with cursor pagination', async () => {
        for (let i = 0; i < 4; i++) {
          const r = await t.api('POST', '/api/v1/agents', {
            body: {
              name: `pager-${i}`,
              owner: 'bob@example.com',
              environment: 'paging',
              tags: { n: String(i % 2) },
            },
          });
          assert.equal(r.status, 201);
        }
        const names = async (qs: string) =>
          (await t.api('GET', `/api/v1/agents?${qs}`)).body.items?.map((x) => (x as Json).name);
        assert.deepEqual(await names('environment=paging&tag=n=1'), ['pager-1', 'pager-3']);
        assert.deepEqual(await names('environment=paging&tag=n=1&tag=missing=x'), []);
        assert.deepEqual(await names('owner=alice@example.com&team=payments'), ['invoice-reader']);
        assert.deepEqual(await names('owner=nobody@example.com'), []);
        assert.deepEqual(await names('q=PAGER-2'), ['pager-2']);
        assert.deepEqual(await names('environment=paging&status=suspended'), []);

        const seen: unknown[] = [];
        let next: unknown = null;
        let pages = 0;
        do {
          const res = await t.api(
            'GET',
            `/api/v1/agents?environment=paging&limit=3${next ? `&cursor=${next}` : ''}`,
          );
          seen.push(...(res.body.items ?? []).map((x) => (x as Json).name));
          next = res.body.nextCursor;
          pages++;
        } while (next);
        assert.equal(pages, 2);
        assert.deepEqual(seen, ['pager-0', 'pager-1', 'pager-2', 'pager-3']);
        await refused('GET', '/api/v1/agents?cursor=%21%21', {}, 400, 'validation-failed', /invalid cursor/);
        await refused('GET', '/api/v1/agents?limit=0', {}, 400, 'validation-failed');
        await refused(
          'GET',
          '/api/v1/agents?colour=red',
          {},
          400,
          'validation-failed',
          /unknown query parameter `colour`/,
        );
      });

      it('updates fields with a before/after audit record and refuses an unknown team', async () => {
        const a = (
          await t.api('POST', '/api/v1/agents', { body: { name: 'patchable', owner: 'bob@example.com' } })
        ).body;
        const res = await t.api('PATCH', `/api/v1/agents/${a.id}`, {
          body: { purpose: 'reconcile', riskLevel: 'high', tags: { a: 'b' }, team: 'payments' },
        });
        assert.equal(res.status, 200);
        assert.equal(res.body.riskLevel, 'high');
        assert.deepEqual(res.body.tags, { a: 'b' });
        const events = await t.api('GET', `/api/v1/audit/events?target=${a.id}&action=agent.update`);
        const changes = (((events.body.items ?? [])[0] as Json).details as Json).changes as Json;
        assert.deepEqual(changes.riskLevel, { from: 'medium', to: 'high' });
        assert.deepEqual(changes.team, { from: null, to: 'payments' });
        assert.equal(changes.name, undefined);
        await refused(
          'PATCH',
          `/api/v1/agents/${a.id}`,
          { body: { team: 'nope' } },
          400,
          'validation-failed',
          /unknown team `nope`/,
        );
        await refused('PATCH', `/api/v1/agents/${a.id}`, { body: {} }, 400, 'validation-failed');
        await refused(
          'PATCH',
          `/api/v1/agents/${a.id}`,
          { body: { status: 'suspended' } },
          400,
          'validation-failed',
          /unknown field `status`/,
        );
      });

      it('moves through the lifecycle with reasons, and refuses invalid transitions', async () => {
        const a = (
          await t.api('POST', '/api/v1/agents', {
            body: { name: 'cycler', owner: 'bob@example.com', environment: 'life' },
          })
        ).body;
        const path = `/api/v1/agents/${a.id}`;
        await refused(
          'POST',
          `${path}/resume`,
          { body: { reason: 'x' } },
          409,
          'invalid-transition',
          /it is active/,
        );
        assert.equal(
          (await t.api('POST', `${path}/suspend`, { body: { reason: 'investigating' } })).body.status,
          'suspended',
        );
        assert.equal((await t.api('GET', path)).body.statusReason, 'investigating');
        await refused('POST', `${path}/suspend`, { body: { reason: 'again' } }, 409, 'invalid-transition');
        assert.equal(
          (await t.api('POST', `${path}/resume`, { body: { reason: 'cleared' } })).body.status,
          'active',
        );
        assert.equal(
          (await t.api('POST', `${path}/decommission`, { body: { reason: 'retired' } })).body.status,
          'decommissioned',
        );
        await refused(
          'POST',
          `${path}/resume`,
          { body: { reason: 'undo' } },
          409,
          'invalid-transition',
          /decommissioned/,
        );
        await refused('POST', `${path}/suspend`, { body: { reason: 'x' } }, 409, 'invalid-transition');
        await refused('POST', `${path}/decommission`, { body: { reason: 'x' } }, 409, 'invalid-transition');
        await refused('PATCH', path, { body: { purpose: 'x' } }, 409, 'invalid-transition');
        await refused(
          'POST',
          `${path}/suspend`,
          { body: {} },
          400,
          'validation-failed',
          /missing required field `reason`/,
        );

        const history = (await t.api('GET', `${path}/history`)).body.items as Json[];
        assert.deepEqual(
          history.map((h) => [h.from, h.to, h.reason]),
          [
            [null, 'active', 'created'],
            ['active', 'suspended', 'investigating'],
            ['suspended', 'active', 'cleared'],
            ['active', 'decommissioned', 'retired'],
          ],
        );
        const audit = await t.api('GET', `/api/v1/audit/events?target=${a.id}`);
        assert.deepEqual(
          audit.body.items?.map((e) => [(e as Json).action, (e as Json).reason]),
          [
            ['agent.create', null],
            ['agent.suspend', 'investigating'],
            ['agent.resume', 'cleared'],
            ['agent.decommission', 'retired'],
          ],
        );
        // the name is free again, and the old record stays
        const again = await t.api('POST', '/api/v1/agents', {
          body: { name: 'cycler', owner: 'bob@example.com', environment: 'life' },
        });
        assert.equal(again.status, 201);
        assert.equal((await t.api('GET', path)).body.status, 'decommissioned');
      });

      it('lets exactly one of concurrent creations with one name and concurrent suspensions win', async () => {
        const creations = await Promise.all(
          Array.from({ length: 10 }, () =>
            t.api('POST', '/api/v1/agents', { body: { name: 'contended', owner: 'bob@example.com' } }),
          ),
        );
        assert.deepEqual(creations.map((r) => r.status).sort(), [201, ...Array(9).fill(409)]);
        const id = creations.find((r) => r.status === 201)?.body.id;
        const suspensions = await Promise.all(
          Array.from({ length: 10 }, () =>
            t.api('POST', `/api/v1/agents/${id}/suspend`, { body: { reason: 'race' } }),
          ),
        );
        assert.deepEqual(suspensions.map((r) => r.status).sort(), [200, ...Array(9).fill(409)]);
        const audit = await t.api('GET', `/api/v1/audit/events?target=${id}&action=agent.suspend`);
        assert.equal(audit.body.items?.length, 1);
      });
    });

    describe('bad input changes nothing and gets a precise problem', () => {
      it('refuses an unknown or deactivated owner', async () => {
        const body = await refused(
          'POST',
          '/api/v1/agents',
          { body: { name: 'orphan', owner: 'ghost@example.com' } },
          400,
          'validation-failed',
          /unknown user `ghost@example.com`/,
        );
        assert.deepEqual(body.errors, [{ pointer: '/owner', detail: 'unknown user `ghost@example.com`' }]);
        const dave = await t.api('POST', '/api/v1/users', {
          body: { email: 'dave@example.com', name: 'Dave' },
        });
        const gone = await t.api('POST', `/api/v1/users/${dave.body.id}/deactivate`, {
          body: { reason: 'left' },
        });
        assert.equal(gone.body.status, 'deactivated');
        await refused(
          'POST',
          '/api/v1/agents',
          { body: { name: 'orphan', owner: 'dave@example.com' } },
          400,
          'validation-failed',
          /deactivated/,
        );
        await refused(
          'POST',
          `/api/v1/users/${dave.body.id}/deactivate`,
          { body: {} },
          409,
          'invalid-transition',
        );
      });

      it('refuses a duplicate name in the same environment', async () => {
        await refused(
          'POST',
          '/api/v1/agents',
          { body: { name: 'bob-bot', owner: 'alice@example.com' } },
          409,
          'conflict',
          /`bob-bot` already exists in environment `default`/,
        );
      });

      it('refuses malformed JSON, a non-JSON body, prototype pollution and an oversized body', async () => {
        await refused('POST', '/api/v1/agents', { rawBody: '{"name": "x", ' }, 400, 'malformed-body');
        await refused('POST', '/api/v1/agents', { rawBody: '' }, 400, 'malformed-body');
        await refused(
          'POST',
          '/api/v1/agents',
          { rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
          415,
          'unsupported-media-type',
        );
        await refused(
          'POST',
          '/api/v1/agents',
          { rawBody: '{"name":"p","owner":"bob@example.com","__proto__":{"admin":true}}' },
          400,
          'malformed-body',
        );
        await refused(
          'POST',
          '/api/v1/agents',
          { body: { name: 'big', owner: 'bob@example.com', purpose: 'x'.repeat(5000) } },
          413,
          'payload-too-large',
        );
      });

      it('refuses wrong types, unknown fields and out-of-range values, naming the field', async () => {
        const cases: Array<[Json, RegExp]> = [
          [{ name: 123, owner: 'bob@example.com' }, /`name` must be string/],
          [{ name: 'x', owner: 'bob@example.com', tags: { k: 1 } }, /`tags.k` must be string/],
          [{ name: 'x', owner: 'bob@example.com', riskLevel: 'extreme' }, /riskLevel/],
          [{ name: 'x', owner: 'bob@example.com', colour: 'red' }, /unknown field `colour`/],
          [{ name: '', owner: 'bob@example.com' }, /`name` must NOT have fewer than 1 characters/],
          [{ name: 'line\nbreak', owner: 'bob@example.com' }, /`name` must match pattern/],
          [{ owner: 'bob@example.com' }, /missing required field `name`/],
          [{ name: 'x', owner: 'bob@example.com', environment: 'Prod!' }, /`environment` must match pattern/],
          [{ name: 'x', owner: 'bob@example.com', expiresAt: 'tomorrow' }, /`expiresAt` must match pattern/],
          [
            { name: 'x', owner: 'bob@example.com', expiresAt: '2020-01-01T00:00:00Z' },
            /must be in the future/,
          ],
          [
            { name: 'x', owner: 'bob@example.com', expiresAt: '2030-13-45T00:00:00Z' },
            /not a valid date-time/,
          ],
          [{ name: 'x', owner: 'bob@example.com', team: 'ghosts' }, /unknown team `ghosts`/],
        ];
        for (const [body, detail] of cases) {
          await refused('POST', '/api/v1/agents', { body }, 400, 'validation-failed', detail);
        }
        await refused('POST', '/api/v1/agents', { body: [] }, 400, 'validation-failed');
      });

      it('answers 404 for unknown ids and routes, 400 for malformed ids', async () => {
        const ghost = newId('agt', Date.now());
        await refused(
          'GET',
          `/api/v1/agents/${ghost}`,
          {},
          404,
          'not-found',
          new RegExp(`unknown agent \`${ghost}\``),
        );
        await refused('POST', `/api/v1/agents/${ghost}/suspend`, { body: { reason: 'x' } }, 404, 'not-found');
        await refused('GET', '/api/v1/agents/not-an-id', {}, 400, 'validation-failed');
        await refused('GET', '/api/v1/nothing-here', {}, 404, 'not-found', /no route/);
        await refused('GET', '/api/v1/users/ghost@example.com', {}, 404, 'not-found');
      });
    });

    describe('admin authentication and roles', () => {
      it('refuses a missing, malformed, unknown, expired or revoked token with 401', async () => {
        const agents = '/api/v1/agents';
        const check = async (token: string | null, detail: RegExp) => {
          await refused('GET', agents, { token }, 401, 'unauthenticated', detail);
          const res = await t.api('GET', agents, { token });
          assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
        };
        await check(null, /missing/);
        await check('not-a-token', /malformed/);
        await check(`${t.adminToken.slice(0, -1)}${t.adminToken.endsWith('0') ? '1' : '0'}`, /malformed/);
        await check(generateAdminToken(), /unknown admin token/);
        await refused(
          'GET',
          agents,
          { headers: { authorization: `Basic ${t.adminToken}` }, token: null },
          401,
          'unauthenticated',
          /Bearer/,
        );

        const expired = generateAdminToken();
        const now = Date.now();
        await t.server.store.adminTokens.insert({
          id: newId('tok', now),
          name: 'expired',
          tokenHash: hashAdminToken(expired),
          role: 'admin',
          userId: null,
          createdBy: 'test',
          createdAt: now - 2 * DAY,
          expiresAt: now - DAY,
          revokedAt: null,
          lastUsedAt: null,
        });
        await check(expired, /expired/);

        const created = await t.api('POST', '/api/v1/tokens', {
          body: { name: 'short-lived', role: 'admin' },
        });
        const token = String(created.body.token);
        assert.equal((await t.api('GET', agents, { token })).status, 200);
        const revoked = await t.api('DELETE', `/api/v1/tokens/${created.body.id}`);
        assert.equal(revoked.status, 200);
        assert.ok(revoked.body.revokedAt);
        await check(token, /revoked/);
        await refused('DELETE', `/api/v1/tokens/${created.body.id}`, {}, 409, 'invalid-transition');
      });

      it('never returns or stores a token in clear after creation', async () => {
        const created = await t.api('POST', '/api/v1/tokens', { body: { name: 'secret', role: 'auditor' } });
        const token = String(created.body.token);
        assert.match(token, /^cst_pat_[0-9A-Za-z]{38}$/);
        const listed = JSON.stringify((await t.api('GET', '/api/v1/tokens?limit=500')).body);
        assert.ok(!listed.includes(token));
        const stored = JSON.stringify((await t.server.store.adminTokens.list({ limit: 500 })).items);
        assert.ok(!stored.includes(token));
        assert.ok(stored.includes(hashAdminToken(token)));
        const audit = JSON.stringify((await t.server.store.audit.list({ limit: 500 })).items);
        assert.ok(!audit.includes(token) && !audit.includes(t.adminToken));
      });

      it('lets an auditor read everything and change nothing', async () => {
        const token = auditorToken;
        assert.equal((await t.api('GET', '/api/v1/agents', { token })).status, 200);
        assert.equal((await t.api('GET', `/api/v1/agents/${bobAgent.id}`, { token })).status, 200);
        assert.equal((await t.api('GET', '/api/v1/audit/events', { token })).status, 200);
        const writes: Array<[string, string, Json]> = [
          ['POST', '/api/v1/users', { email: 'x@example.com', name: 'X' }],
          ['PATCH', `/api/v1/users/${bob.id}`, { name: 'B' }],
          ['POST', `/api/v1/users/${bob.id}/deactivate`, {}],
          ['POST', '/api/v1/teams', { name: 'auditors' }],
          ['POST', '/api/v1/agents', { name: 'sneaky', owner: 'bob@example.com' }],
          ['PATCH', `/api/v1/agents/${bobAgent.id}`, { purpose: 'x' }],
          ['POST', `/api/v1/agents/${bobAgent.id}/suspend`, { reason: 'x' }],
          ['POST', `/api/v1/agents/${bobAgent.id}/decommission`, { reason: 'x' }],
          ['POST', '/api/v1/tokens', { name: 'escalate', role: 'admin' }],
        ];
        for (const [method, path, body] of writes)
          await refused(method, path, { token, body }, 403, 'forbidden');
      });

      it('lets an owner manage only their own agents', async () => {
        const token = aliceToken;
        const mine = await t.api('POST', '/api/v1/agents', {
          token,
          body: { name: 'alice-own', owner: 'alice@example.com' },
        });
        assert.equal(mine.status, 201);
        assert.equal(
          (await t.api('POST', `/api/v1/agents/${mine.body.id}/suspend`, { token, body: { reason: 'mine' } }))
            .status,
          200,
        );
        const listed = (await t.api('GET', '/api/v1/agents?limit=500', { token })).body.items as Json[];
        assert.ok(listed.length > 0);
        assert.ok(listed.every((a) => (a.owner as Json).id === alice.id));
        assert.deepEqual(
          (await t.api('GET', `/api/v1/agents?owner=bob@example.com`, { token })).body.items,
          [],
        );

        const other = `/api/v1/agents/${bobAgent.id}`;
        await refused('GET', other, { token }, 403, 'forbidden', /another owner/);
        await refused('GET', `${other}/history`, { token }, 403, 'forbidden');
        await refused('PATCH', other, { token, body: { purpose: 'hijack' } }, 403, 'forbidden');
        await refused('POST', `${other}/suspend`, { token, body: { reason: 'x' } }, 403, 'forbidden');
        await refused('POST', `${other}/decommission`, { token, body: { reason: 'x' } }, 403, 'forbidden');
        await refused(
          'POST',
          '/api/v1/agents',
          { token, body: { name: 'for-bob', owner: 'bob@example.com' } },
          403,
          'forbidden',
        );
        await refused(
          'PATCH',
          `/api/v1/agents/${mine.body.id}`,
          { token, body: { owner: 'bob@example.com' } },
          403,
          'forbidden',
        );
        await refused('POST', '/api/v1/teams', { token, body: { name: 'mine' } }, 403, 'forbidden');
        await refused('GET', '/api/v1/tokens', { token }, 403, 'forbidden');
        await refused('GET', '/api/v1/audit/events', { token }, 403, 'forbidden');
      });

      it('stops an owner token when its user is deactivated', async () => {
        const erin = await t.api('POST', '/api/v1/users', {
          body: { email: 'erin@example.com', name: 'Erin' },
        });
        const tok = await t.api('POST', '/api/v1/tokens', {
          body: { name: 'erin', role: 'owner', user: 'erin@example.com' },
        });
        const token = String(tok.body.token);
        assert.equal((await t.api('GET', '/api/v1/agents', { token })).status, 200);
        await t.api('POST', `/api/v1/users/${erin.body.id}/deactivate`, { body: { reason: 'left' } });
        await refused('GET', '/api/v1/agents', { token }, 401, 'unauthenticated', /deactivated/);
        await refused(
          'POST',
          '/api/v1/tokens',
          { body: { name: 'x', role: 'owner' } },
          400,
          'validation-failed',
          /needs a `user`/,
        );
      });
    });

    describe('operations', () => {
      it('serves an OpenAPI 3.1 document covering every admin resource', async () => {
        const res = await t.api('GET', '/api/v1/openapi.json', { token: null });
        assert.equal(res.status, 200);
        assert.equal(res.body.openapi, '3.1.0');
        const paths = res.body.paths as Record<string, Json>;
        for (const [path, methods] of Object.entries({
          '/api/v1/users': ['post', 'get'],
          '/api/v1/users/{id}': ['get', 'patch'],
          '/api/v1/users/{id}/deactivate': ['post'],
          '/api/v1/teams': ['post', 'get'],
          '/api/v1/agents': ['post', 'get'],
          '/api/v1/agents/{id}': ['get', 'patch'],
          '/api/v1/agents/{id}/suspend': ['post'],
          '/api/v1/agents/{id}/resume': ['post'],
          '/api/v1/agents/{id}/decommission': ['post'],
        })) {
          for (const m of methods) assert.ok(paths[path]?.[m], `OpenAPI lacks ${m.toUpperCase()} ${path}`);
        }
        const agentsPath = paths['/api/v1/agents'] as Json;
        const create = (agentsPath.post as Json).requestBody as Json;
        const schema = ((create.content as Json)['application/json'] as Json).schema as Json;
        assert.deepEqual((schema.required as string[]).sort(), ['name', 'owner']);
        assert.equal(schema.additionalProperties, false);
      });

      it('reports health, readiness and Prometheus metrics', async () => {
        assert.deepEqual((await t.api('GET', '/healthz', { token: null })).body, { status: 'ok' });
        const ready = await t.api('GET', '/readyz', { token: null });
        assert.equal(ready.status, 200);
        assert.equal(ready.body.status, 'ready');
        const metrics = String((await t.api('GET', '/metrics', { token: null })).body.text);
        assert.match(
          metrics,
          /custos_http_requests_total\{method="POST",route="\/api\/v1\/agents",status="201"\} \d+/,
        );
        assert.match(metrics, /custos_http_request_duration_seconds_bucket/);
        assert.match(metrics, /custos_store_duration_seconds_count\{kind="transaction"\} \d+/);
      });
    });
  });
}
