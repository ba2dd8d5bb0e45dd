import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CliRun, describeRun, failedWith, runCli, succeeded } from './support/cli.js';
import { DIALECTS } from './support/databases.js';
import { waitFor } from './support/monitor.js';
import { createAgent, type Json, type TestAgent } from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

/** `custos finding …`, `custos monitor …` and `custos agent kill|activity|baseline|unrestrict` as users run them. */
for (const dialect of DIALECTS) {
  describe(`monitoring from the CLI (${dialect})`, () => {
    let t: TestServer;
    let agent: TestAgent;
    let findingIds: string[];
    const custos = (...args: string[]): Promise<CliRun> => runCli(args, { url: t.url, token: t.adminToken });
    const json = async (...args: string[]): Promise<Json> =>
      JSON.parse(succeeded(await custos(...args, '--json'))) as Json;

    before(async () => {
      t = await startTestServer(dialect, {
        monitorLearningSeconds: 0,
        monitorIntervalMs: 50,
        monitorResponseRules: [{ detector: 'new-resource', minSeverity: 'low', action: 'require_approval' }],
      });
      await t.api('POST', '/api/v1/users', { body: { email: 'cli@example.com', name: 'Cli' } });
      agent = await createAgent(t, 'cli@example.com');
      // a monitor that starts after the report learns it as history and raises nothing about it
      await waitFor('the monitor to start', async () => {
        const status = await t.api('GET', '/api/v1/monitor/status');
        return status.body.processed === null ? undefined : true;
      });
      const reported = await t.api('POST', '/api/v1/activity', {
        body: {
          events: ['files/read', 'files/write', 'files/delete'].map((tool) => ({
            agent: agent.id,
            action: 'tools/call',
            resource: { type: 'Tool', id: tool },
            outcome: 'allow',
            sourceAddress: '192.0.2.10',
          })),
        },
      });
      assert.equal(reported.status, 202);
      findingIds = await waitFor('three findings', async () => {
        const page = await t.api('GET', `/api/v1/findings?agent=${agent.id}`);
        const items = (page.body.items ?? []) as Json[];
        return items.length >= 3 ? items.map((f) => String(f.id)) : undefined;
      });
    });
    after(() => t.close());

    it('lists findings as a table and as JSON, with filters', async () => {
      const table = succeeded(await custos('finding', 'list', '--agent', agent.id));
      assert.match(table.split('\n')[0] ?? '', /^ID\s+SEVERITY\s+DETECTOR\s+STATUS\s+AGENT/);
      assert.equal(table.trim().split('\n').length, 4);
      assert.match(table, /new-resource\s+open/);
      const page = await json('finding', 'list', '--detector', 'new-resource', '--limit', '2');
      assert.equal((page.items as Json[]).length, 2);
      assert.equal(typeof page.nextCursor, 'string');
      const shown = await json('finding', 'get', findingIds[0] as string);
      assert.equal(shown.id, findingIds[0]);
      assert.ok(Array.isArray(shown.evidence));
    });

    it('acknowledges, resolves and marks false positives', async () => {
      const [first, second, third] = findingIds as [string, string, string];
      assert.match(succeeded(await custos('finding', 'ack', first)), /^status:\s+acknowledged$/m);
      assert.match(
        succeeded(await custos('finding', 'resolve', first, '--reason', 'expected')),
        /^status:\s+resolved$/m,
      );
      const fp = await json('finding', 'false-positive', second, '--reason', 'a new feature');
      assert.equal(fp.status, 'false_positive');
      assert.equal(fp.statusReason, 'a new feature');
      assert.match(
        succeeded(await custos('finding', 'ack', third, '--reason', 'looking')),
        /^statusReason:\s+looking$/m,
      );
    });

    it('fails with one line and a non-zero exit on bad input', async () => {
      const [first] = findingIds as [string];
      failedWith(
        await custos('finding', 'ack', first),
        /cannot acknowledge finding `fnd_\w+`: it is resolved \(HTTP 409\)/,
      );
      failedWith(
        await custos('finding', 'get', 'fnd_00000000000000000000000000'),
        /unknown finding `fnd_0+` \(HTTP 404\)/,
      );
      failedWith(
        await custos('agent', 'kill', 'agt_00000000000000000000000000', '--reason', 'x'),
        /unknown agent .* \(HTTP 404\)/,
      );
      const noReason = await custos('finding', 'resolve', first);
      assert.notEqual(noReason.code, 0, describeRun(noReason));
      assert.match(noReason.stderr, /required option '--reason <text>' not specified/);
      const badStatus = await custos('finding', 'list', '--status', 'closed');
      assert.notEqual(badStatus.code, 0);
      assert.match(badStatus.stderr, /expected one of open, acknowledged, resolved, false_positive/);
      const badSince = await custos('agent', 'activity', agent.id, '--since', 'last week');
      assert.notEqual(badSince.code, 0);
      assert.match(badSince.stderr, /expected a duration/);
    });

    it('shows an agent’s activity and baseline', async () => {
      const out = succeeded(await custos('agent', 'activity', agent.id, '--since', '2h', '--bucket', '15m'));
      assert.match(out, new RegExp(`^${agent.id}: 3 calls \\(0 denied, 0\\.0%\\)`));
      assert.match(out, /Tool::"files\/delete"\s+1\s+0/);
      assert.match(out, /192\.0\.2\.10\s+3/);
      const baseline = succeeded(await custos('agent', 'baseline', agent.id));
      assert.match(baseline, /^learned:\s+true$/m);
      assert.doesNotMatch(baseline, /hourOfWeek/);
      const view = await json('agent', 'activity', agent.id);
      assert.equal(view.calls, 3);
    });

    it('shows the monitor’s status and restrictions, and lifts one', async () => {
      const status = await json('monitor', 'status');
      assert.equal(status.enabled, true);
      assert.deepEqual(status.responseRules, ['new-resource:low=require_approval']);
      assert.match(
        succeeded(await custos('monitor', 'restrictions')),
        new RegExp(`${agent.id}\\s+approval_required`),
      );
      assert.match(
        succeeded(await custos('agent', 'unrestrict', agent.id, '--reason', 'reviewed')),
        /^mode:\s+approval_required$/m,
      );
      failedWith(
        await custos('agent', 'unrestrict', agent.id, '--reason', 'again'),
        /unknown restriction on agent .* \(HTTP 404\)/,
      );
    });

    it('kills an agent', async () => {
      const out = succeeded(await custos('agent', 'kill', agent.id, '--reason', 'compromised'));
      assert.match(out, /^status:\s+suspended$/m);
      assert.match(out, new RegExp(`^revokedKeys:\\s+${agent.kid}$`, 'm'));
      const again = await json('agent', 'kill', agent.id, '--reason', 'again');
      assert.deepEqual(again.revokedKeys, []);
    });
  });
}
