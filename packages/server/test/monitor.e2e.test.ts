import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from './support/databases.js';
import { introspect, issueToken, waitFor } from './support/monitor.js';
import { auditEvents, createAgent, isJson, type Json, type TestAgent } from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

const API = 'https://api.example.com';
const iso = (ms: number) => new Date(ms).toISOString();

/** The monitor's admin API end to end: ingestion, views, findings, kill switch, restrictions, status. */
for (const dialect of DIALECTS) {
  describe(`monitoring API end to end (${dialect})`, () => {
    let t: TestServer;
    let auditor: string;
    let aliceOwner: string;
    let rs: string;
    let a: TestAgent;
    let b: TestAgent;

    const token = async (body: Json) => {
      const res = await t.api('POST', '/api/v1/tokens', { body });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return String(res.body.token);
    };
    const report = (
      events: Json[],
      as: string | null = rs,
      options: { rawBody?: string; headers?: Record<string, string> } = {},
    ) =>
      t.api('POST', '/api/v1/activity', {
        ...(options.rawBody === undefined ? { body: { events } } : { rawBody: options.rawBody }),
        token: as,
        ...(options.headers ? { headers: options.headers } : {}),
      });
    const reported = async () => (await auditEvents(t, { action: 'activity.report' })).length;
    const call = (agent: TestAgent, tool: string, extra: Json = {}): Json => ({
      agent: agent.id,
      action: 'tools/call',
      resource: { type: 'Tool', id: tool },
      outcome: 'allow',
      sourceAddress: '10.20.30.40',
      ...extra,
    });

    /** A request that must be refused with `status` and problem `type`, recording no activity. */
    async function refusedReport(
      events: Json[],
      status: number,
      type: string,
      detail?: RegExp,
      as: string | null = rs,
    ) {
      const before = await reported();
      const res = await report(events, as);
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body.type, `urn:custos:problem:${type}`);
      if (detail) assert.match(String(res.body.detail), detail);
      assert.equal(await reported(), before, 'a refused report records nothing');
      return res.body;
    }

    before(async () => {
      t = await startTestServer(dialect, {
        monitorLearningSeconds: 0,
        monitorIntervalMs: 50,
        monitorResponseRules: [
          { detector: 'new-resource', minSeverity: 'medium', action: 'require_approval' },
        ],
      });
      await t.api('POST', '/api/v1/users', { body: { email: 'alice@example.com', name: 'Alice' } });
      await t.api('POST', '/api/v1/users', { body: { email: 'bob@example.com', name: 'Bob' } });
      auditor = await token({ name: 'auditor', role: 'auditor' });
      aliceOwner = await token({ name: 'alice', role: 'owner', user: 'alice@example.com' });
      rs = await token({ name: 'crm resource server', role: 'resource_server' });
      a = await createAgent(t, 'alice@example.com', { audiences: [API] });
      b = await createAgent(t, 'bob@example.com', { audiences: [API] });
    });
    after(() => t.close());

    describe('activity ingestion', () => {
      it('records reported activity in the audit log, as the reporting token, and raises findings from it', async () => {
        const at = Date.now() - 1000;
        const res = await report([
          call(a, 'crm/search', { at: iso(at), onBehalfOf: 'usr_support', bytes: 2048, tags: ['sensitive'] }),
          call(a, 'crm/update', { outcome: 'deny' }),
        ]);
        assert.equal(res.status, 202, JSON.stringify(res.body));
        assert.equal(res.body.accepted, 2);
        const seqs = res.body.seqs as number[];
        assert.equal(seqs.length, 2);
        const events = await auditEvents(t, { action: 'activity.report', target: a.id });
        const first = events.find((e) => e.seq === seqs[0]);
        assert.ok(first && isJson(first.details) && isJson(first.actor));
        assert.equal(first.actor.type, 'admin_token');
        assert.equal(first.outcome, 'success');
        assert.equal(first.details.activity, 'tools/call');
        assert.deepEqual(first.details.resource, { type: 'Tool', id: 'crm/search' });
        assert.equal(first.details.occurredAt, at);
        assert.equal(first.details.onBehalfOf, 'usr_support');
        assert.equal(events.find((e) => e.seq === seqs[1])?.outcome, 'denied');

        const found = await waitFor('new-resource findings', async () => {
          const page = await t.api('GET', `/api/v1/findings?agent=${a.id}&detector=new-resource`);
          return (page.body.items?.length ?? 0) >= 2 ? (page.body.items as Json[]) : undefined;
        });
        const search = found.find((f) => String(f.title).includes('crm/search'));
        assert.ok(search);
        assert.equal(search.status, 'open');
        assert.equal(search.severity, 'medium');
        assert.equal(search.response, 'require_approval');
        assert.match(String(search.id), /^fnd_[0-9a-z]{26}$/);
        assert.deepEqual(
          (search.evidence as Json[]).map((e) => e.seq),
          [seqs[0]],
        );
        const raised = await auditEvents(t, { action: 'finding.raise', target: a.id });
        assert.ok(raised.some((e) => isJson(e.details) && e.details.findingId === search.id));
      });

      it('refuses reports from tokens that may not report, and resource_server tokens elsewhere', async () => {
        await refusedReport([call(a, 'x/y')], 401, 'unauthenticated', undefined, null);
        await refusedReport([call(a, 'x/y')], 403, 'forbidden', /auditor/, auditor);
        await refusedReport([call(a, 'x/y')], 403, 'forbidden', /owner/, aliceOwner);
        const elsewhere = await t.api('GET', '/api/v1/agents', { token: rs });
        assert.equal(elsewhere.status, 403);
        assert.match(String(elsewhere.body.detail), /may only call token introspection and report activity/);
      });

      it('refuses a report with an unknown agent, a bad time, address or token, recording none of it', async () => {
        const body = await refusedReport(
          [call(a, 'x/y'), call({ ...a, id: 'agt_00000000000000000000000000' }, 'x/y')],
          400,
          'validation-failed',
          /unknown agent `agt_00000000000000000000000000`/,
        );
        assert.deepEqual((body.errors as Json[])[0]?.pointer, '/events/1/agent');
        await refusedReport(
          [call(a, 'x/y', { at: iso(Date.now() - 3_600_000) })],
          400,
          'validation-failed',
          /more than 15 minutes in the past/,
        );
        await refusedReport(
          [call(a, 'x/y', { at: iso(Date.now() + 3_600_000) })],
          400,
          'validation-failed',
          /in the future/,
        );
        await refusedReport([call(a, 'x/y', { at: 'yesterday' })], 400, 'validation-failed');
        await refusedReport(
          [call(a, 'x/y', { sourceAddress: '10.0.0.999' })],
          400,
          'validation-failed',
          /not an IP address/,
        );
        const issued = await issueToken(t, b, API);
        assert.equal(issued.status, 200, JSON.stringify(issued.body));
        const jti = JSON.parse(
          Buffer.from(String(issued.body.access_token).split('.')[1] as string, 'base64url').toString(),
        ).jti as string;
        await refusedReport(
          [call(a, 'x/y', { tokenId: jti })],
          400,
          'validation-failed',
          /was not issued to agent/,
        );
        // the same token with its own agent is fine (from the address it was issued to: else it looks stolen)
        assert.equal(
          (await report([call(b, 'x/y', { tokenId: jti, sourceAddress: '127.0.0.1' })])).status,
          202,
        );
      });

      it('refuses malformed reports', async () => {
        await refusedReport([], 400, 'validation-failed');
        await refusedReport(
          [{ ...call(a, 'x/y'), extra: 1 }],
          400,
          'validation-failed',
          /unknown field `extra`/,
        );
        await refusedReport([call(a, 'x/y', { outcome: 'maybe' })], 400, 'validation-failed');
        await refusedReport([{ ...call(a, 'x/y'), agent: 'bob' }], 400, 'validation-failed');
        await refusedReport(
          Array.from({ length: 501 }, () => call(a, 'x/y')),
          400,
          'validation-failed',
        );
        await refusedReport([call(a, 'x/y', { tags: ['Not A Tag'] })], 400, 'validation-failed');
        const before = await reported();
        const text = await report([], rs, { rawBody: 'events=1', headers: { 'content-type': 'text/plain' } });
        assert.equal(text.status, 415);
        const broken = await report([], rs, { rawBody: '{"events": [' });
        assert.equal(broken.status, 400);
        assert.equal(await reported(), before);
      });
    });

    describe('findings', () => {
      let mine: Json;
      let bobs: Json;

      before(async () => {
        assert.equal((await report([call(b, 'billing/refund')])).status, 202);
        bobs = await waitFor('a finding about bob’s agent', async () => {
          const page = await t.api('GET', `/api/v1/findings?agent=${b.id}&detector=new-resource`);
          return (page.body.items as Json[] | undefined)?.find((f) =>
            String(f.title).includes('billing/refund'),
          );
        });
        const page = await t.api('GET', `/api/v1/findings?agent=${a.id}&status=open`);
        mine = (page.body.items as Json[])[0] as Json;
        assert.ok(mine);
      });

      it('lists with filters, newest first, and pages', async () => {
        const all = await t.api('GET', '/api/v1/findings?limit=500');
        const items = all.body.items as Json[];
        assert.ok(items.length >= 3);
        assert.deepEqual(
          items.map((f) => f.id),
          [...items.map((f) => String(f.id))].sort().reverse(),
        );
        const first = await t.api('GET', '/api/v1/findings?limit=1');
        assert.equal((first.body.items as Json[]).length, 1);
        const second = await t.api('GET', `/api/v1/findings?limit=1&cursor=${first.body.nextCursor}`);
        assert.notEqual((second.body.items as Json[])[0]?.id, (first.body.items as Json[])[0]?.id);
        const high = await t.api('GET', '/api/v1/findings?severity=critical');
        assert.deepEqual(high.body.items, []);
        for (const query of [
          'status=closed',
          'agent=bob',
          'severity=urgent',
          'detector=NOPE',
          'cursor=%25%25',
          'limit=0',
          'what=1',
        ]) {
          const res = await t.api('GET', `/api/v1/findings?${query}`);
          assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
          assert.equal(res.body.type, 'urn:custos:problem:validation-failed');
        }
      });

      it('shows an owner only the findings about its own agents', async () => {
        const list = await t.api('GET', '/api/v1/findings', { token: aliceOwner });
        assert.ok((list.body.items as Json[]).length > 0);
        assert.ok((list.body.items as Json[]).every((f) => f.agent === a.id));
        assert.equal((await t.api('GET', `/api/v1/findings/${mine.id}`, { token: aliceOwner })).status, 200);
        const other = await t.api('GET', `/api/v1/findings/${bobs.id}`, { token: aliceOwner });
        assert.equal(other.status, 403);
        const change = await t.api('POST', `/api/v1/findings/${bobs.id}/acknowledge`, { token: aliceOwner });
        assert.equal(change.status, 403);
      });

      it('reads one finding; an unknown or malformed id is refused', async () => {
        const one = await t.api('GET', `/api/v1/findings/${mine.id}`, { token: auditor });
        assert.equal(one.status, 200);
        assert.equal(one.body.id, mine.id);
        assert.equal((await t.api('GET', '/api/v1/findings/fnd_00000000000000000000000000')).status, 404);
        assert.equal((await t.api('GET', '/api/v1/findings/nope')).status, 400);
      });

      it('acknowledges, resolves and marks false positives, audited, refusing moves that do not apply', async () => {
        const ack = await t.api('POST', `/api/v1/findings/${mine.id}/acknowledge`);
        assert.equal(ack.status, 200, JSON.stringify(ack.body));
        assert.equal(ack.body.status, 'acknowledged');
        const again = await t.api('POST', `/api/v1/findings/${mine.id}/acknowledge`, { body: {} });
        assert.equal(again.status, 409);
        assert.match(
          String(again.body.detail),
          /cannot acknowledge finding `fnd_[0-9a-z]+`: it is acknowledged/,
        );
        const noReason = await t.api('POST', `/api/v1/findings/${mine.id}/resolve`, { body: {} });
        assert.equal(noReason.status, 400);
        const byAuditor = await t.api('POST', `/api/v1/findings/${mine.id}/resolve`, {
          body: { reason: 'x' },
          token: auditor,
        });
        assert.equal(byAuditor.status, 403);
        const resolved = await t.api('POST', `/api/v1/findings/${mine.id}/resolve`, {
          body: { reason: 'the new tool was expected' },
          token: aliceOwner,
        });
        assert.equal(resolved.status, 200);
        assert.equal(resolved.body.status, 'resolved');
        assert.equal(resolved.body.statusReason, 'the new tool was expected');
        const fp = await t.api('POST', `/api/v1/findings/${mine.id}/false-positive`, {
          body: { reason: 'x' },
        });
        assert.equal(fp.status, 409);
        const marked = await t.api('POST', `/api/v1/findings/${bobs.id}/false-positive`, {
          body: { reason: 'billing bot does refunds' },
        });
        assert.equal(marked.body.status, 'false_positive');
        const unknown = await t.api('POST', '/api/v1/findings/fnd_00000000000000000000000000/resolve', {
          body: { reason: 'x' },
        });
        assert.equal(unknown.status, 404);
        const events = await auditEvents(t, { target: a.id });
        const actions = events.map((e) => e.action);
        assert.ok(actions.includes('finding.acknowledge') && actions.includes('finding.resolve'));
        const resolve = events.find((e) => e.action === 'finding.resolve');
        assert.equal(resolve?.reason, 'the new tool was expected');
        assert.deepEqual(isJson(resolve?.details) && resolve.details.changes, {
          status: { from: 'acknowledged', to: 'resolved' },
        });
      });
    });

    describe('activity and baseline views', () => {
      it('summarises an agent’s activity from the audit log', async () => {
        const view = await t.api('GET', `/api/v1/agents/${a.id}/activity?bucket=1h`);
        assert.equal(view.status, 200, JSON.stringify(view.body));
        assert.equal(view.body.agent, a.id);
        assert.equal(view.body.bucketSeconds, 3600);
        assert.ok(Number(view.body.calls) >= 2);
        assert.ok(Number(view.body.denied) >= 1);
        const resources = (view.body.resources as Json[]).map((r) => r.resource);
        assert.ok(resources.includes('Tool::"crm/search"'));
        assert.deepEqual((view.body.sourceAddresses as Json[])[0]?.address, '10.20.30.40');
        assert.deepEqual((view.body.onBehalfOf as Json[])[0]?.user, 'usr_support');
        assert.equal((view.body.timeline as Json[]).length, 24);
        const owner = await t.api('GET', `/api/v1/agents/${a.id}/activity`, { token: aliceOwner });
        assert.equal(owner.status, 200);
      });

      it('refuses a bad range, an unknown agent, and other owners', async () => {
        const now = Date.now();
        const cases: [string, number][] = [
          [`/api/v1/agents/${a.id}/activity?from=${iso(now)}&to=${iso(now - 1000)}`, 400],
          [`/api/v1/agents/${a.id}/activity?from=${iso(now - 40 * 86_400_000)}`, 400],
          [`/api/v1/agents/${a.id}/activity?from=${iso(now - 3 * 86_400_000)}&bucket=1m`, 400],
          [`/api/v1/agents/${a.id}/activity?bucket=2h`, 400],
          [`/api/v1/agents/${a.id}/activity?since=1h`, 400],
          ['/api/v1/agents/agt_00000000000000000000000000/activity', 404],
          ['/api/v1/agents/agt_00000000000000000000000000/baseline', 404],
        ];
        for (const [path, status] of cases) {
          const res = await t.api('GET', path);
          assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
        }
        assert.equal(
          (await t.api('GET', `/api/v1/agents/${b.id}/activity`, { token: aliceOwner })).status,
          403,
        );
        assert.equal(
          (await t.api('GET', `/api/v1/agents/${b.id}/baseline`, { token: aliceOwner })).status,
          403,
        );
      });

      it('shows what the monitor learned', async () => {
        const baseline = await waitFor('the baseline', async () => {
          const res = await t.api('GET', `/api/v1/agents/${a.id}/baseline`, { token: auditor });
          return res.body.learned === true ? res.body : undefined;
        });
        assert.equal(baseline.learning, false, 'a learning period of 0 s');
        assert.ok((baseline.resources as string[]).includes('Tool::"crm/search"'));
        assert.ok((baseline.sourceAddresses as string[]).includes('10.20.30.40'));
        assert.equal((baseline.hourOfWeek as number[]).length, 168);
      });
    });

    describe('kill switch', () => {
      it('suspends the agent and revokes all its keys and tokens at once, audited', async () => {
        const victim = await createAgent(t, 'alice@example.com', { audiences: [API] });
        const issued = await issueToken(t, victim, API);
        const accessToken = String(issued.body.access_token);
        assert.equal((await introspect(t, accessToken)).active, true);
        const killed = await t.api('POST', `/api/v1/agents/${victim.id}/kill`, {
          body: { reason: 'credential leaked in a public repo' },
          token: aliceOwner,
        });
        assert.equal(killed.status, 200, JSON.stringify(killed.body));
        assert.equal((killed.body.agent as Json).status, 'suspended');
        assert.deepEqual(killed.body.revokedKeys, [victim.kid]);
        assert.ok(Number(killed.body.revokedTokens) >= 1);
        // effective at once: introspection reads the store
        assert.deepEqual(await introspect(t, accessToken), { active: false });
        const again = await issueToken(t, victim, API);
        assert.equal(again.body.error, 'invalid_client');
        const keys = await t.api('GET', `/api/v1/agents/${victim.id}/keys`);
        assert.deepEqual(
          (keys.body.items as Json[]).map((k) => k.status),
          ['revoked'],
        );
        const events = await auditEvents(t, { target: victim.id });
        const kill = events.find((e) => e.action === 'agent.kill');
        assert.ok(kill && isJson(kill.details));
        assert.equal(kill.reason, 'credential leaked in a public repo');
        assert.deepEqual(kill.details.revokedKeys, [victim.kid]);
        assert.ok(events.some((e) => e.action === 'agent.suspend'));
        // killing again is harmless; resuming is possible, but the keys stay revoked
        const twice = await t.api('POST', `/api/v1/agents/${victim.id}/kill`, { body: { reason: 'again' } });
        assert.equal(twice.status, 200);
        assert.deepEqual(twice.body.revokedKeys, []);
        const resumed = await t.api('POST', `/api/v1/agents/${victim.id}/resume`, {
          body: { reason: 'rotated' },
        });
        assert.equal(resumed.status, 200);
        assert.equal((await issueToken(t, victim, API)).body.error, 'invalid_client');
      });

      it('refuses a kill without a reason, of an unknown or decommissioned agent, or by whoever may not', async () => {
        const target = await createAgent(t, 'bob@example.com', { audiences: [API] });
        const cases: [Parameters<TestServer['api']>[2], string, number][] = [
          [{ body: {} }, target.id, 400],
          [{ body: { reason: '' } }, target.id, 400],
          [{ body: { reason: 'x' } }, 'agt_00000000000000000000000000', 404],
          [{ body: { reason: 'x' }, token: auditor }, target.id, 403],
          [{ body: { reason: 'x' }, token: aliceOwner }, target.id, 403],
          [{ body: { reason: 'x' }, token: rs }, target.id, 403],
          [{ body: { reason: 'x' }, token: null }, target.id, 401],
        ];
        for (const [options, id, status] of cases) {
          const res = await t.api('POST', `/api/v1/agents/${id}/kill`, options);
          assert.equal(res.status, status, JSON.stringify(res.body));
        }
        assert.equal((await t.api('GET', `/api/v1/agents/${target.id}`)).body.status, 'active');
        await t.api('POST', `/api/v1/agents/${target.id}/decommission`, { body: { reason: 'gone' } });
        const gone = await t.api('POST', `/api/v1/agents/${target.id}/kill`, { body: { reason: 'x' } });
        assert.equal(gone.status, 409);
        assert.match(String(gone.body.detail), /decommissioned/);
      });
    });

    describe('restrictions set by response rules', () => {
      it('lists them and lets an admin lift one, audited', async () => {
        const list = await t.api('GET', '/api/v1/monitor/restrictions', { token: auditor });
        const items = list.body.items as Json[];
        const mine = items.find((r) => r.agent === a.id);
        assert.ok(mine, JSON.stringify(items));
        assert.equal(mine.mode, 'approval_required');
        assert.equal((await t.api('GET', '/api/v1/monitor/restrictions', { token: aliceOwner })).status, 403);
        const byOwner = await t.api('POST', `/api/v1/agents/${a.id}/unrestrict`, {
          body: { reason: 'x' },
          token: aliceOwner,
        });
        assert.equal(byOwner.status, 403);
        const lifted = await t.api('POST', `/api/v1/agents/${a.id}/unrestrict`, {
          body: { reason: 'reviewed' },
        });
        assert.equal(lifted.status, 200, JSON.stringify(lifted.body));
        const again = await t.api('POST', `/api/v1/agents/${a.id}/unrestrict`, {
          body: { reason: 'reviewed' },
        });
        assert.equal(again.status, 404);
        const events = await auditEvents(t, { target: a.id });
        assert.ok(
          events.some(
            (e) => e.action === 'agent.restrict' && isJson(e.actor) && e.actor.id === 'custos-monitor',
          ),
        );
        assert.ok(events.some((e) => e.action === 'agent.unrestrict' && e.reason === 'reviewed'));
      });
    });

    describe('status, keys and metrics', () => {
      it('reports its state to admins and auditors only', async () => {
        const status = await t.api('GET', '/api/v1/monitor/status', { token: auditor });
        assert.equal(status.status, 200);
        assert.equal(status.body.enabled, true);
        assert.equal(status.body.learningSeconds, 0);
        assert.deepEqual(status.body.responseRules, ['new-resource:medium=require_approval']);
        assert.equal(typeof status.body.cursor, 'number');
        assert.ok(isJson(status.body.detectors) && isJson(status.body.detectors['concurrent-use']));
        assert.equal((await t.api('GET', '/api/v1/monitor/status', { token: aliceOwner })).status, 403);
        assert.equal((await t.api('GET', '/api/v1/monitor/status', { token: rs })).status, 403);
        const jwks = await t.api('GET', '/api/v1/monitor/jwks', { token: null });
        assert.deepEqual(jwks.body, { keys: [] });
      });

      it('exports Prometheus metrics per detector', async () => {
        const text = await (await fetch(`${t.url}/metrics`)).text();
        assert.match(
          text,
          /custos_monitor_findings_total\{detector="new-resource",severity="medium"\} [1-9]/,
        );
        assert.match(text, /custos_monitor_signals_total\{detector="exfiltration-sequence"\} 0/);
        assert.match(text, /custos_monitor_events_total [1-9]/);
        assert.match(text, /custos_monitor_lag_seconds \d/);
      });

      it('documents its routes in the OpenAPI document', async () => {
        const doc = await t.api('GET', '/api/v1/openapi.json', { token: null });
        const paths = doc.body.paths as Json;
        for (const path of [
          '/api/v1/activity',
          '/api/v1/findings',
          '/api/v1/findings/{id}/resolve',
          '/api/v1/agents/{id}/kill',
        ])
          assert.ok(isJson(paths[path]), path);
      });
    });
  });
}
