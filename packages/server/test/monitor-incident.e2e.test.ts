import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAgentClient } from '@custos/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DEFAULT_DETECTORS } from '../src/config/index.js';
import { DIALECTS } from './support/databases.js';
import { type RunningUpstream, startEverything } from './support/mcp-upstreams.js';
import { fetchFrom, waitFor } from './support/monitor.js';
import { auditEvents, createAgent, isJson, type Json, type TestAgent } from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

const SECRET = 'alert-signing-secret-0123456789';
/** Any 127.x.y.z is loopback on Linux: the attacker's connections leave from another network. */
const ATTACKER = '127.9.9.9';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Alert {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

/** The security team's webhook receiver: keeps every alert with its headers. */
async function alertReceiver(): Promise<{ url: string; alerts: Alert[]; close(): Promise<void> }> {
  const alerts: Alert[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      alerts.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    alerts,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Checks `x-custos-signature: t=<s>,v1=<hex HMAC-SHA256("<t>.<body>")>`, with `t` within five minutes. */
function signedAlert(alert: Alert): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(alert.headers['x-custos-signature']));
  if (!match) return false;
  if (Math.abs(Number(match[1]) - Date.now() / 1000) > 300) return false;
  return createHmac('sha256', SECRET).update(`${match[1]}.${alert.body}`).digest('hex') === match[2];
}

/**
 * The acceptance scenario: a scripted agent works normally through the MCP
 * gateway, then (its key stolen) starts calling a tool it never used, at a high
 * rate, from a second address. Within 5 s a finding is raised, the response
 * rule suspends the agent, its next gateway call is refused, the security
 * team's webhook receives a valid signed alert, and every step is in the audit log.
 */
for (const dialect of DIALECTS) {
  describe(`monitoring stops a compromised agent end to end (${dialect})`, () => {
    let t: TestServer;
    let everything: RunningUpstream;
    let receiver: Awaited<ReturnType<typeof alertReceiver>>;
    let resource: string;
    const agents: TestAgent[] = [];

    before(async () => {
      everything = await startEverything();
      receiver = await alertReceiver();
      t = await startTestServer(dialect, {
        monitorLearningSeconds: 3,
        monitorIntervalMs: 100,
        monitorDetectors: {
          ...DEFAULT_DETECTORS,
          'call-rate-spike': { ...DEFAULT_DETECTORS['call-rate-spike'], minPerMinute: 30 },
        },
        monitorResponseRules: [{ detector: '*', minSeverity: 'high', action: 'suspend' }],
        monitorWebhookUrl: receiver.url,
        monitorWebhookSecret: SECRET,
      });
      resource = `${t.config.issuer}/mcp/everything`;
      await t.api('POST', '/api/v1/users', { body: { email: 'ops@example.com', name: 'Ops' } });
      const added = await t.api('POST', '/api/v1/gateway/servers', {
        body: { name: 'everything', transport: { type: 'http', url: everything.url } },
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      for (let n = 0; n < 2; n++) {
        const agent = await createAgent(t, 'ops@example.com', { audiences: [resource] });
        for (const tool of ['everything/echo', 'everything/get-sum']) {
          const granted = await t.api('POST', '/api/v1/grants', {
            body: {
              principal: { type: 'Agent', id: agent.id },
              action: 'tools/call',
              resource: { type: 'Tool', id: tool },
              reason: 'test',
            },
          });
          assert.equal(granted.status, 201, JSON.stringify(granted.body));
        }
        agents.push(agent);
      }
    });
    after(async () => {
      await t?.close();
      await receiver?.close();
      await everything?.stop();
    });

    /** An MCP client of the agent (DPoP-bound tokens through Custos' SDK), connecting from `address`. */
    async function connect(agent: TestAgent, address?: string): Promise<Client> {
      const agentClient = createAgentClient({
        issuer: t.config.issuer,
        agentId: agent.id,
        privateKey: agent.privateKey,
        privateKeyId: agent.kid,
        privateKeyAlg: 'ES256',
        fetch: address ? fetchFrom(address) : fetch,
      });
      const transport = new StreamableHTTPClientTransport(new URL(resource), {
        fetch: (url, init) => agentClient.fetch(url, init, { resource }),
      });
      const client = new Client({ name: 'scripted-agent', version: '1' });
      await client.connect(transport);
      return client;
    }

    /** Normal work: an echo every 300 ms for 5 s (the learning period is 3 s); nothing is raised. */
    async function workNormally(agent: TestAgent): Promise<Client> {
      const client = await connect(agent);
      for (let i = 0; i < 16; i++) {
        await client.callTool({ name: 'echo', arguments: { message: `routine ${i}` } });
        await sleep(300);
      }
      const baseline = await t.api('GET', `/api/v1/agents/${agent.id}/baseline`);
      assert.equal(baseline.body.learning, false, JSON.stringify(baseline.body));
      assert.deepEqual(baseline.body.resources, ['Tool::"everything/echo"']);
      const none = await t.api('GET', `/api/v1/findings?agent=${agent.id}`);
      assert.equal(none.body.items?.length, 0, 'normal work raises nothing');
      return client;
    }

    /** Calls `get-sum` (never used before) as fast as possible until refused; when it stopped. */
    async function hammer(
      agent: TestAgent,
      address?: string,
    ): Promise<{ made: number; refusedAt: number | null }> {
      let made = 0;
      let client: Client;
      try {
        client = await connect(agent, address);
      } catch {
        return { made, refusedAt: Date.now() }; // stopped at its first token
      }
      for (let i = 0; i < 300; i++) {
        try {
          await client.callTool({ name: 'get-sum', arguments: { a: i, b: 1 } });
          made++;
        } catch {
          await client.close().catch(() => undefined);
          return { made, refusedAt: Date.now() };
        }
      }
      await client.close();
      return { made, refusedAt: null };
    }

    /** Steps 3 to 6 of the scenario: findings in time, suspension, refusals, alerts, audit. */
    async function verifyStopped(
      agent: TestAgent,
      normal: Client,
      attackStarted: number,
      refusedAt: number | null,
    ) {
      const findings = await waitFor('findings', async () => {
        const page = await t.api('GET', `/api/v1/findings?agent=${agent.id}`);
        return (page.body.items?.length ?? 0) > 0 ? (page.body.items as Json[]) : undefined;
      });
      const firstRaised = Math.min(...findings.map((f) => Date.parse(String(f.createdAt))));
      assert.ok(
        firstRaised - attackStarted < 5000,
        `first finding ${firstRaised - attackStarted} ms after the attack began`,
      );
      const status = (await t.api('GET', `/api/v1/agents/${agent.id}`)).body;
      assert.equal(status.status, 'suspended');
      assert.match(String(status.statusReason), /^monitor finding fnd_/);
      assert.ok(findings.some((f) => f.response === 'suspend'));
      assert.ok(
        refusedAt !== null && refusedAt - attackStarted < 6000,
        'the attack was stopped within seconds',
      );
      await assert.rejects(normal.callTool({ name: 'echo', arguments: { message: 'still there?' } }));

      const alerts = await waitFor('alerts', async () => {
        const mine = receiver.alerts.filter(
          (a) => (JSON.parse(a.body) as { finding: Json }).finding.agent === agent.id,
        );
        return mine.length >= findings.length ? mine : undefined;
      });
      for (const alert of alerts) {
        assert.ok(signedAlert(alert), 'a valid HMAC signature');
        const body = JSON.parse(alert.body) as { id: string; type: string; finding: Json };
        assert.equal(body.type, 'custos.finding');
        assert.equal(alert.headers['x-custos-delivery'], body.id);
      }
      assert.ok(alerts.some((a) => (JSON.parse(a.body) as { finding: Json }).finding.response === 'suspend'));
      const first = alerts[0] as Alert;
      assert.ok(!signedAlert({ ...first, body: `${first.body} ` }), 'a changed body fails the check');

      const ids = new Set(findings.map((f) => f.id));
      const events = await waitFor('the deliveries in the audit log', async () => {
        const all = await auditEvents(t);
        const delivered = all.filter(
          (e) => e.action === 'alert.deliver' && isJson(e.target) && ids.has(e.target.id),
        );
        return delivered.length >= ids.size ? all : undefined;
      });
      const about = events.filter(
        (e) => (isJson(e.target) && e.target.id === agent.id) || (isJson(e.actor) && e.actor.id === agent.id),
      );
      const raised = about.filter((e) => e.action === 'finding.raise');
      // Each finding is inserted with its audit event in one transaction, and the monitor may
      // still raise more after the first read: compare against the findings as they are now.
      const nowFindings = (await t.api('GET', `/api/v1/findings?agent=${agent.id}`)).body.items as Json[];
      const raisedIds = raised.map((e) => (isJson(e.details) ? String(e.details.findingId) : ''));
      for (const f of findings) assert.ok(raisedIds.includes(String(f.id)), `finding ${f.id} was audited`);
      for (const id of raisedIds) {
        assert.ok(
          nowFindings.some((f) => f.id === id),
          `audited finding ${id} exists`,
        );
      }
      const suspension = about.find((e) => e.action === 'agent.suspend');
      assert.ok(suspension && isJson(suspension.actor) && suspension.actor.id === 'custos-monitor');
      assert.ok(Number(raised[0]?.seq) < Number(suspension.seq), 'the finding, then the suspension');
      assert.ok(
        about.some(
          (e) =>
            e.action === 'gateway.call' && isJson(e.details) && String(e.details.resource).includes('echo'),
        ),
      );
      return {
        findings,
        about,
        timing: `first finding ${firstRaised - attackStarted} ms and refusal ${Number(refusedAt) - attackStarted} ms after the attack began`,
      };
    }

    it('a stolen key used from a second address: a finding within 5 s, suspension, refusal, signed alert, audit', async (ctx) => {
      const agent = agents[0] as TestAgent;
      const normal = await workNormally(agent);
      const attackStarted = Date.now();
      const { refusedAt } = await hammer(agent, ATTACKER);
      const { findings, about, timing } = await verifyStopped(agent, normal, attackStarted, refusedAt);
      ctx.diagnostic(timing);
      const concurrent = findings.find((f) => f.detector === 'concurrent-use');
      assert.ok(concurrent, 'the credential used from two addresses at once');
      assert.match(
        String(concurrent.explanation),
        new RegExp(`never seen before: \`${ATTACKER.replaceAll('.', '\\.')}\``),
      );
      assert.ok(
        about.some(
          (e) => e.action === 'token.issue' && isJson(e.details) && e.details.sourceAddress === ATTACKER,
        ),
      );
      await assert.rejects(connect(agent, ATTACKER), 'no new token either');
      const refusals = await auditEvents(t, { action: 'token.refuse', target: agent.id });
      assert.ok(
        refusals.some(
          (e) =>
            isJson(e.details) && e.details.sourceAddress === ATTACKER && /suspended/.test(String(e.reason)),
        ),
        'the refused token request is audited',
      );
      // an admin can undo the automatic action
      const resumed = await t.api('POST', `/api/v1/agents/${agent.id}/resume`, {
        body: { reason: 'key rotated' },
      });
      assert.equal(resumed.status, 200);
      await normal.close();
    });

    it('an unusual tool at a high rate: new-resource and call-rate-spike, the spike suspends it', async (ctx) => {
      const agent = agents[1] as TestAgent;
      const normal = await workNormally(agent);
      const attackStarted = Date.now();
      const { made, refusedAt } = await hammer(agent);
      // 16 routine calls in the last minute: the spike is seen past 30 (the configured minimum)
      assert.ok(made >= 10, `${made} calls went through before the spike was seen`);
      const { findings, about, timing } = await verifyStopped(agent, normal, attackStarted, refusedAt);
      ctx.diagnostic(`${timing}; ${made} calls went through`);
      const byDetector = new Map(findings.map((f) => [f.detector, f]));
      assert.equal(byDetector.get('new-resource')?.response, 'notify', 'medium: notify only');
      assert.equal(byDetector.get('call-rate-spike')?.response, 'suspend');
      assert.ok(
        about.some(
          (e) =>
            e.action === 'gateway.call' &&
            isJson(e.details) &&
            String(e.details.resource).includes('get-sum'),
        ),
      );
      await normal.close();
    });
  });
}
