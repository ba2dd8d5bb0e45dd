/**
 * OpenID AuthZEN Authorization API 1.0 conformance, end to end: the
 * certification scenario (Basic, Batch, Search, Discovery) and the "Todo"
 * interop scenario, each loaded into a real server through the real CLI
 * (`custos schema apply`, `custos entity apply`, `custos policy apply`), on
 * SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI, runCli, succeeded } from './support/cli.js';
import { DIALECTS } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

type Json = Record<string, unknown>;

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const CONFORMANCE =
  process.env.AUTHZEN_CONFORMANCE_DIR ??
  fileURLToPath(new URL('../../../../shared/conformance/authzen/', import.meta.url));

const EVALUATION = '/access/v1/evaluation';
const EVALUATIONS = '/access/v1/evaluations';
const SEARCH_SUBJECT = '/access/v1/search/subject';
const SEARCH_RESOURCE = '/access/v1/search/resource';
const SEARCH_ACTION = '/access/v1/search/action';

const alice = { type: 'user', id: 'alice' };
const bob = { type: 'user', id: 'bob' };
const record1 = { type: 'record', id: 'record-1' };
const record2 = { type: 'record', id: 'record-2' };
const read = { name: 'read' };
const write = { name: 'write' };

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
  assert.ok(
    existsSync(join(CONFORMANCE, 'todo-decisions-1_0-02.json')),
    `the AuthZEN conformance material is missing at ${CONFORMANCE} (set AUTHZEN_CONFORMANCE_DIR)`,
  );
});

/** Loads a fixture directory (schema, entities, policies) with the CLI, asserting each step's output. */
async function loadWithCli(t: TestServer, dir: string, entitiesFile: string): Promise<void> {
  const env = { url: t.url, token: t.adminToken };
  const schema = succeeded(
    await runCli(['schema', 'apply', join(dir, 'schema.cedarschema'), '--reason', 'fixture'], env),
  );
  assert.match(schema, /^applied \(schema version \d+\)\n$/);
  const entities = succeeded(await runCli(['entity', 'apply', entitiesFile, '--reason', 'fixture'], env));
  assert.match(entities, /^upserted \d+ entities\n$/);
  const dryRun = succeeded(await runCli(['policy', 'apply', join(dir, 'policies'), '--dry-run'], env));
  assert.match(dryRun, /^\+ /m);
  assert.match(dryRun, /dry run: nothing changed/);
  const applied = succeeded(
    await runCli(['policy', 'apply', join(dir, 'policies'), '--reason', 'fixture'], env),
  );
  assert.match(applied, /applied: enforce set is version \d+/);
  assert.match(
    succeeded(await runCli(['policy', 'validate', join(dir, 'policies')], env)),
    /^valid: \d+ policies\n$/,
  );
}

for (const dialect of DIALECTS) {
  describe(`AuthZEN certification scenario (${dialect})`, () => {
    let t: TestServer;
    const pdp = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      t.api('POST', path, { body, headers });
    /** Posts an evaluation and returns its decision (asserting a well-formed 200). */
    const decide = async (body: Json): Promise<boolean> => {
      const res = await pdp(EVALUATION, body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(typeof res.body.decision, 'boolean');
      if (res.body.context !== undefined) assert.equal(typeof res.body.context, 'object');
      return res.body.decision as boolean;
    };
    /** Asserts an HTTP 400 problem. */
    const badRequest = async (path: string, init: Parameters<TestServer['api']>[2]) => {
      const res = await t.api('POST', path, init);
      assert.equal(
        res.status,
        400,
        `${path} ${JSON.stringify(init)} → ${res.status} ${JSON.stringify(res.body)}`,
      );
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(res.body.status, 400);
    };
    const decisions = (body: Json) => (body.evaluations as Json[]).map((e) => e.decision);

    before(async () => {
      t = await startTestServer(dialect);
      const dir = join(FIXTURES, 'authzen-certification');
      await loadWithCli(t, dir, join(dir, 'entities.json'));
    });
    after(() => t.close());

    describe('Basic', () => {
      it('core: the fixture decisions on identifier fields only (rules 1-4)', async () => {
        assert.equal(await decide({ subject: alice, action: read, resource: record1 }), true);
        assert.equal(await decide({ subject: alice, action: write, resource: record1 }), true);
        assert.equal(await decide({ subject: bob, action: read, resource: record1 }), true);
        assert.equal(await decide({ subject: bob, action: write, resource: record1 }), false);
      });

      it('core: accepts an optional context, extra properties and unknown fields without changing decisions', async () => {
        const context = { time: '2025-06-27T18:03-07:00', ip: '192.168.1.1' };
        assert.equal(await decide({ subject: alice, action: read, resource: record1, context }), true);
        assert.equal(
          await decide({
            subject: { ...alice, properties: { department: 'Sales', role: 'manager' } },
            action: { name: 'read', properties: { method: 'GET' } },
            resource: { ...record1, properties: { status: 'active', owner: 'bob' } },
          }),
          true,
        );
        assert.equal(
          await decide({
            subject: alice,
            action: read,
            resource: record1,
            foo: 'bar',
            futureField: { nested: true },
          }),
          true,
        );
      });

      it('properties: evaluates subject, resource and action properties (rules 5-8)', async () => {
        const archived = { ...record2, properties: { status: 'archived' } };
        assert.equal(await decide({ subject: alice, action: write, resource: archived }), false);
        assert.equal(
          await decide({
            subject: { ...bob, properties: { role: 'admin' } },
            action: write,
            resource: archived,
          }),
          true,
        );
        // any subject whose role property is admin, not only a known one
        assert.equal(
          await decide({
            subject: { type: 'user', id: 'carol', properties: { role: 'admin' } },
            action: write,
            resource: archived,
          }),
          true,
        );
        assert.equal(
          await decide({
            subject: alice,
            action: { name: 'delete', properties: { soft: true } },
            resource: record1,
          }),
          true,
        );
        assert.equal(
          await decide({
            subject: alice,
            action: { name: 'delete', properties: { soft: false } },
            resource: record1,
          }),
          false,
        );
      });

      it('answers the same decision to the same request (idempotent)', async () => {
        const body = { subject: bob, action: read, resource: record1 };
        const answers = await Promise.all([1, 2, 3, 4, 5].map(() => decide(body)));
        assert.deepEqual(answers, [true, true, true, true, true]);
      });

      it('refuses missing fields, missing sub-fields and wrong types with 400', async () => {
        const cases: Json[] = [
          { action: read, resource: record1 },
          { subject: alice, resource: record1 },
          { subject: alice, action: read },
          { subject: { id: 'alice' }, action: read, resource: record1 },
          { subject: { type: 'user' }, action: read, resource: record1 },
          { subject: alice, action: {}, resource: record1 },
          { subject: alice, action: read, resource: { id: 'record-1' } },
          { subject: alice, action: read, resource: { type: 'record' } },
          { subject: 'alice', action: read, resource: record1 },
          { subject: alice, action: { name: 123 }, resource: record1 },
        ];
        for (const body of cases) await badRequest(EVALUATION, { body });
      });

      it('refuses a body that is not JSON, is empty, or has another content type, with 400', async () => {
        await badRequest(EVALUATION, {
          rawBody: '{"subject": ',
          headers: { 'content-type': 'application/json' },
        });
        await badRequest(EVALUATION, { rawBody: '', headers: { 'content-type': 'application/json' } });
        const json = JSON.stringify({ subject: alice, action: read, resource: record1 });
        await badRequest(EVALUATION, { rawBody: json, headers: { 'content-type': 'text/plain' } });
        await badRequest(EVALUATION, {
          rawBody: json,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
      });

      it('echoes X-Request-ID, and answers without one', async () => {
        const body = { subject: alice, action: read, resource: record1 };
        const echoed = await pdp(EVALUATION, body, { 'x-request-id': 'cert-7f3a' });
        assert.equal(echoed.status, 200);
        assert.equal(echoed.headers.get('x-request-id'), 'cert-7f3a');
        const own = await pdp(EVALUATION, body);
        assert.equal(own.status, 200);
        assert.match(own.headers.get('x-request-id') ?? '', /^req_/);
      });

      it('explains each decision (policies, policy version) and audits it with the deciding policy ids', async () => {
        const res = await pdp(
          EVALUATION,
          { subject: bob, action: read, resource: record1 },
          { 'x-request-id': 'cert-audit' },
        );
        assert.equal(res.body.decision, true);
        const context = res.body.context as Json;
        assert.deepEqual(context.policies, ['staff-read']);
        assert.equal(typeof context.policy_version, 'number');
        const events = await t.api('GET', '/api/v1/audit/events?action=policy.decision&limit=500');
        const asked = JSON.stringify({ principal: bob, action: 'read', resource: record1 });
        const event = (events.body.items as Json[])
          .filter((e) => JSON.stringify((e.details as Json).request) === asked)
          .at(-1);
        assert.ok(event, 'the decision is in the audit log');
        const details = event.details as Json;
        assert.equal(details.decision, 'allow');
        assert.deepEqual(details.policies, ['staff-read']);
        assert.equal(details.version, context.policy_version);
        assert.equal(details.source, 'authzen');
        assert.deepEqual(event.target, { type: 'entity', id: 'user::"bob"' });
      });
    });

    describe('Batch', () => {
      it('answers every evaluation, in order, with default values merged (core)', async () => {
        const byResource = await pdp(EVALUATIONS, {
          subject: alice,
          action: read,
          evaluations: [{ resource: record1 }, { resource: record2 }],
        });
        assert.equal(byResource.status, 200);
        assert.equal((byResource.body.evaluations as Json[]).length, 2);
        assert.equal(byResource.body.decision, undefined, 'no top-level decision for a batch');
        for (const e of byResource.body.evaluations as Json[]) assert.equal(typeof e.decision, 'boolean');

        const byAction = await pdp(EVALUATIONS, {
          subject: bob,
          resource: record1,
          evaluations: [{ action: read }, { action: write }],
        });
        assert.deepEqual(decisions(byAction.body), [true, false]);

        const full = await pdp(EVALUATIONS, {
          evaluations: [
            { subject: alice, action: read, resource: record1 },
            { subject: bob, action: write, resource: record1 },
          ],
        });
        assert.deepEqual(decisions(full.body), [true, false]);

        const context = await pdp(EVALUATIONS, {
          subject: alice,
          action: read,
          context: { time: '2025-06-27T18:03-07:00' },
          evaluations: [
            { resource: record1 },
            { resource: record2, context: { time: '2025-06-27T19:00-07:00', source: 'batch-override' } },
          ],
        });
        assert.equal(context.status, 200);
        assert.equal((context.body.evaluations as Json[]).length, 2);
      });

      it('evaluates properties per item, and merges a partial item with the defaults (properties)', async () => {
        const perResource = await pdp(EVALUATIONS, {
          subject: alice,
          action: write,
          evaluations: [
            { resource: { ...record1, properties: { status: 'active' } } },
            { resource: { ...record2, properties: { status: 'archived' } } },
          ],
        });
        assert.deepEqual(decisions(perResource.body), [true, false]);
        const perSubject = await pdp(EVALUATIONS, {
          action: write,
          resource: { ...record2, properties: { status: 'archived' } },
          evaluations: [{ subject: alice }, { subject: { ...bob, properties: { role: 'admin' } } }],
        });
        assert.deepEqual(decisions(perSubject.body), [false, true]);
        const merged = await pdp(EVALUATIONS, {
          subject: alice,
          action: write,
          resource: { type: 'record' },
          evaluations: [
            { resource: { id: 'record-1', properties: { status: 'active' } } },
            { resource: { ...record2, properties: { status: 'archived' } } },
          ],
        });
        assert.deepEqual(decisions(merged.body), [true, false]);
      });

      it('makes a failing item a deny with its error, keeping the batch answer', async () => {
        const res = await pdp(EVALUATIONS, {
          subject: alice,
          action: read,
          evaluations: [{ resource: record1 }, {}],
        });
        assert.equal(res.status, 200);
        const items = res.body.evaluations as Json[];
        assert.equal(items.length, 2);
        assert.equal(items[0]?.decision, true);
        assert.equal(items[1]?.decision, false);
        assert.match(String((items[1]?.context as Json | undefined)?.error), /resource/);
      });

      it('behaves as a single evaluation without (or with an empty) evaluations array', async () => {
        for (const extra of [{}, { evaluations: [] }]) {
          const res = await pdp(EVALUATIONS, { subject: alice, action: read, resource: record1, ...extra });
          assert.equal(res.status, 200);
          assert.equal(res.body.decision, true);
          assert.equal(res.body.evaluations, undefined);
        }
        await badRequest(EVALUATIONS, { body: { subject: alice, action: read } });
      });

      it('honours evaluations_semantic: deny_on_first_deny and permit_on_first_permit stop early', async () => {
        const evaluations = [{ action: read }, { action: write }, { action: read }];
        const base = { subject: bob, resource: record1, evaluations };
        const all = await pdp(EVALUATIONS, { ...base, options: { evaluations_semantic: 'execute_all' } });
        assert.deepEqual(decisions(all.body), [true, false, true]);
        const denyFirst = await pdp(EVALUATIONS, {
          ...base,
          options: { evaluations_semantic: 'deny_on_first_deny' },
        });
        assert.deepEqual(decisions(denyFirst.body), [true, false]);
        const permitFirst = await pdp(EVALUATIONS, {
          ...base,
          options: { evaluations_semantic: 'permit_on_first_permit' },
        });
        assert.deepEqual(decisions(permitFirst.body), [true]);
        await badRequest(EVALUATIONS, { body: { ...base, options: { evaluations_semantic: 'first_come' } } });
      });
    });

    describe('Search', () => {
      const ids = (body: Json) => (body.results as Json[]).map((r) => r.id);

      it('finds subjects, resources and actions (core)', async () => {
        const subjects = await pdp(SEARCH_SUBJECT, {
          subject: { type: 'user' },
          action: read,
          resource: record1,
        });
        assert.equal(subjects.status, 200);
        for (const r of subjects.body.results as Json[]) assert.equal(r.type, 'user');
        assert.deepEqual(ids(subjects.body), ['alice', 'bob']);
        const withContext = await pdp(SEARCH_SUBJECT, {
          subject: { type: 'user' },
          action: read,
          resource: record1,
          context: { time: '2025-06-27T18:03-07:00' },
        });
        assert.deepEqual(ids(withContext.body), ['alice', 'bob']);

        const resources = await pdp(SEARCH_RESOURCE, {
          subject: alice,
          action: read,
          resource: { type: 'record' },
        });
        assert.equal(resources.status, 200);
        assert.ok(ids(resources.body).includes('record-1'));
        for (const r of resources.body.results as Json[]) assert.equal(r.type, 'record');

        const actions = await pdp(SEARCH_ACTION, { subject: alice, resource: record1 });
        assert.equal(actions.status, 200);
        const names = (actions.body.results as Json[]).map((r) => r.name);
        assert.ok(names.includes('read') && names.includes('write'), JSON.stringify(names));
        const actionsWithContext = await pdp(SEARCH_ACTION, {
          subject: alice,
          resource: record1,
          context: { ip: '10.0.0.1' },
        });
        assert.equal(actionsWithContext.status, 200);
      });

      it('evaluates properties in searches (properties)', async () => {
        const archived = { ...record2, properties: { status: 'archived' } };
        const subjects = await pdp(SEARCH_SUBJECT, {
          subject: { type: 'user' },
          action: write,
          resource: archived,
        });
        assert.ok(ids(subjects.body).includes('bob'));
        const resources = await pdp(SEARCH_RESOURCE, {
          subject: { ...bob, properties: { role: 'admin' } },
          action: write,
          resource: { type: 'record' },
        });
        assert.ok(ids(resources.body).includes('record-2'));
        const actions = await pdp(SEARCH_ACTION, {
          subject: { ...bob, properties: { role: 'admin' } },
          resource: archived,
        });
        assert.ok((actions.body.results as Json[]).some((r) => r.name === 'write'));
      });

      it('pages with limit and token, ending with an empty next_token', async () => {
        const body = { subject: { type: 'user' }, action: read, resource: record1 };
        const first = await pdp(SEARCH_SUBJECT, { ...body, page: { limit: 1 } });
        assert.equal(first.status, 200);
        assert.deepEqual(ids(first.body), ['alice']);
        const page = first.body.page as Json;
        assert.equal(typeof page.next_token, 'string');
        assert.notEqual(page.next_token, '');
        const second = await pdp(SEARCH_SUBJECT, { ...body, page: { token: page.next_token } });
        assert.deepEqual(ids(second.body), ['bob']);
        assert.equal((second.body.page as Json).next_token, '');
        await badRequest(SEARCH_SUBJECT, { body: { ...body, page: { token: '!!' } } });
      });

      it('answers empty results for an unknown entity or an unknown type', async () => {
        const unknownId = await pdp(SEARCH_ACTION, {
          subject: { type: 'user', id: 'nonexistent-user' },
          resource: record1,
        });
        assert.equal(unknownId.status, 200);
        assert.deepEqual(unknownId.body.results, []);
        const unknownType = await pdp(SEARCH_SUBJECT, {
          subject: { type: 'spaceship' },
          action: read,
          resource: record1,
        });
        assert.equal(unknownType.status, 200);
        assert.deepEqual(unknownType.body.results, []);
      });

      it('refuses searches missing required fields with 400', async () => {
        await badRequest(SEARCH_SUBJECT, { body: { subject: { type: 'user' }, resource: record1 } });
        await badRequest(SEARCH_RESOURCE, { body: { action: read, resource: { type: 'record' } } });
        await badRequest(SEARCH_ACTION, { body: { subject: alice } });
        await badRequest(SEARCH_SUBJECT, {
          body: { subject: { type: 'user' }, action: read, resource: { type: 'record' } },
        });
        await badRequest(SEARCH_RESOURCE, {
          body: { subject: { type: 'user' }, action: read, resource: { type: 'record' } },
        });
      });
    });

    describe('Discovery', () => {
      it('publishes the PDP metadata, without authentication', async () => {
        const res = await t.api('GET', '/.well-known/authzen-configuration', { token: null });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        const base = t.config.issuer;
        assert.deepEqual(res.body, {
          policy_decision_point: base,
          access_evaluation_endpoint: `${base}${EVALUATION}`,
          access_evaluations_endpoint: `${base}${EVALUATIONS}`,
          search_subject_endpoint: `${base}${SEARCH_SUBJECT}`,
          search_resource_endpoint: `${base}${SEARCH_RESOURCE}`,
          search_action_endpoint: `${base}${SEARCH_ACTION}`,
        });
      });
    });
  });

  describe(`AuthZEN Todo interop scenario (${dialect})`, () => {
    let t: TestServer;
    let workDir: string;
    let scenario: {
      evaluation: { request: Json; expected: boolean }[];
      evaluations: { request: Json; expected: { decision: boolean }[] }[];
    };

    before(async () => {
      t = await startTestServer(dialect);
      scenario = JSON.parse(await readFile(join(CONFORMANCE, 'todo-decisions-1_0-02.json'), 'utf8'));
      const users = JSON.parse(await readFile(join(CONFORMANCE, 'todo-users.json'), 'utf8')) as Record<
        string,
        { email: string; name: string; roles: string[] }
      >;
      // subjects are users by PID, with the directory's email and roles as attributes
      const entities = Object.entries(users).map(([pid, u]) => ({
        uid: { type: 'user', id: pid },
        attrs: { email: u.email, name: u.name, roles: u.roles },
        parents: [],
      }));
      workDir = await mkdtemp(join(tmpdir(), 'custos-todo-'));
      const file = join(workDir, 'entities.json');
      await writeFile(file, JSON.stringify(entities));
      await loadWithCli(t, join(FIXTURES, 'authzen-todo'), file);
    });
    after(async () => {
      await t.close();
      await rm(workDir, { recursive: true, force: true });
    });

    it('passes all 40 evaluations', async () => {
      assert.equal(scenario.evaluation.length, 40);
      const mismatches: string[] = [];
      for (const [i, { request, expected }] of scenario.evaluation.entries()) {
        const res = await t.api('POST', EVALUATION, { body: request });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        if (res.body.decision !== expected)
          mismatches.push(`#${i} ${JSON.stringify(request)} → ${res.body.decision}`);
      }
      assert.deepEqual(mismatches, []);
    });

    it('passes the 3 batches', async () => {
      assert.equal(scenario.evaluations.length, 3);
      for (const { request, expected } of scenario.evaluations) {
        const res = await t.api('POST', EVALUATIONS, { body: request });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(
          (res.body.evaluations as Json[]).map((e) => ({ decision: e.decision })),
          expected,
          JSON.stringify(request),
        );
      }
    });
  });
}
