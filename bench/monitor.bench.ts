/**
 * The monitor: how fast the detectors take in activity, and whether running
 * them changes the gateway's latency.
 *
 * 1. In process: a replayed week of synthetic activity of nine agents (the
 *    false-positive test's traffic) through the detector engine, as audit
 *    records (normalise + detect) and as activity (detect only). CPU µs per
 *    event against a floor measured in the same run: `JSON.parse` of the
 *    record's details, the least any reader of the audit log pays per event.
 * 2. Against `custos serve` (SQLite, own process), two servers side by side,
 *    monitoring on and off, fed the gateway benchmark's MCP `tools/call` load in
 *    interleaved rounds: gateway latency and server CPU per call for both, and
 *    how far the monitor falls behind the audit log (events behind, and the
 *    time to catch up when the load stops).
 *
 * Run: npm run bench -- monitor   (env BENCH_CALLS, BENCH_CONCURRENCY)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import {
  type ActivityEvent,
  DEFAULT_SETTINGS,
  DetectorEngine,
  type MonitorSettings,
  toActivity,
} from '../packages/server/src/monitor/index.js';
import type { AuditEventRecord } from '../packages/server/src/storage/index.js';
import {
  type AgentProfile,
  DAY,
  generate,
  MONDAY,
  ordered,
} from '../packages/server/test/support/activity-traffic.js';
import { freePort } from '../packages/server/test/support/server.js';
import {
  type BenchServer,
  benchAgent,
  clientAssertion,
  type LoadResult,
  percentile,
  runLoad,
  startBenchServer,
} from './support.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 4000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const ROUNDS = 10;

// ---- 1. detectors in process

const id = (name: string) => `agt_${name.padEnd(26, '0')}`;
const PROFILES: AgentProfile[] = [
  ['support', 300, 2, 8, 18],
  ['hr', 60, 1, 8, 18],
  ['etl', 1200, 3, 0, 24],
  ['billing', 120, 1, 0, 24],
  ['ops', 90, 1, 9, 17],
  ['sales', 120, 1, 8, 20],
  ['report', 40, 1, 9, 17],
  ['analytics', 200, 1, 0, 24],
  ['scheduler', 30, 1, 0, 24],
].map(([name, rate, instances, from, to], i) => ({
  id: id(String(name)),
  tools: [`${name}/read`, `${name}/write`, `${name}/search`],
  hours: [Number(from), Number(to)] as const,
  weekdaysOnly: Number(to) - Number(from) < 24,
  callsPerHour: Number(rate),
  addresses: Array.from({ length: Number(instances) }, (_, k) => `10.${i}.0.${k + 5}`),
  denyRatio: 0.01,
  bytesMean: 20_000,
}));

const settings: MonitorSettings = {
  ...DEFAULT_SETTINGS,
  learningMs: 2 * DAY,
  tags: { sensitive: ['hr/*'], egress: ['mail/send', 'web/*'] },
};

/** An activity as the gateway records it (`gateway.call`), with its details as stored text. */
function asRecord(e: ActivityEvent): { record: AuditEventRecord; text: string } {
  const details = {
    gateway: 'mcp',
    upstream: (e.resourceId ?? '').split('/')[0],
    method: 'tools/call',
    action: e.action,
    resource: e.resource,
    tokenId: e.tokenId,
    sourceAddress: e.sourceAddress,
    argumentsHash: 'hmac-sha256:0123456789abcdefghijklmnopqrstuvwxyzABCDE',
    decision: e.outcome === 'allow' ? 'allow' : 'deny',
    policies: ['grant-1'],
    policyVersion: 7,
    upstreamStatus: 200,
    latencyMs: 1.234,
    bytesIn: 120,
    bytesOut: e.bytes,
  };
  const record: AuditEventRecord = {
    seq: e.seq,
    id: `evt_${String(e.seq).padStart(26, '0')}`,
    at: e.at,
    requestId: 'req_abcdefghijklmnop',
    actorType: 'agent',
    actorId: e.agentId,
    action: e.kind === 'token' ? 'token.issue' : 'gateway.call',
    targetType: e.kind === 'token' ? 'agent' : 'tool',
    targetId: e.kind === 'token' ? e.agentId : e.resourceId,
    outcome: e.outcome === 'allow' ? 'success' : 'denied',
    reason: null,
    details:
      e.kind === 'token'
        ? { credential: e.credential, tokenId: e.tokenId, sourceAddress: e.sourceAddress }
        : details,
    prevHash: null,
    hash: null,
  };
  return { record, text: JSON.stringify(record.details) };
}

function cpuMicros(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

function detectors(): string[] {
  const activity = ordered(...PROFILES.map((p, i) => generate(p, MONDAY, 7, 1000 + i)));
  const records = activity.map(asRecord);
  const n = activity.length;
  const best = (fn: () => void) => Math.min(...[0, 1, 2].map(() => cpuMicros(fn))) / n;
  let sink = 0;
  const floor = best(() => {
    for (const r of records) sink += (JSON.parse(r.text) as { latencyMs: number }).latencyMs > 0 ? 1 : 0;
  });
  let signals = 0;
  const detect = best(() => {
    const engine = new DetectorEngine(settings);
    for (const e of activity) signals += engine.process(e).length;
  });
  const normaliseAndDetect = best(() => {
    const engine = new DetectorEngine(settings);
    for (const r of records) {
      const a = toActivity(r.record);
      if (a) engine.process(a);
    }
  });
  const readAll = best(() => {
    const engine = new DetectorEngine(settings);
    for (const r of records) {
      const a = toActivity({ ...r.record, details: JSON.parse(r.text) as Record<string, unknown> });
      if (a) engine.process(a);
    }
  });
  if (sink < 0) throw new Error('unreachable');
  const row = (name: string, us: number) =>
    `| ${name} | ${us.toFixed(2)} | ${(1e6 / us).toFixed(0)} | ${(us / floor).toFixed(2)}× |`;
  return [
    `detectors: ${n} events (a week of 9 agents, ${PROFILES.reduce((k, p) => k + p.addresses.length, 0)} instances; learning 2 days, then all 8 detectors); ${signals / 3} signals per pass; best of 3 passes, CPU time`,
    '',
    '| per event | CPU µs | events/s (one core) | ratio to floor |',
    '| --- | ---: | ---: | ---: |',
    row('floor: `JSON.parse` of the stored details', floor),
    row('detect (activity in, signals out)', detect),
    row('normalise (`toActivity`) + detect', normaliseAndDetect),
    row('parse + normalise + detect', readAll),
    '',
  ];
}

// ---- 2. gateway latency with monitoring on and off

async function startUpstream(): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./gateway-upstream.ts', import.meta.url).pathname, String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

interface Side {
  readonly name: string;
  readonly server: BenchServer;
  readonly requests: (n: number) => Parameters<typeof runLoad>[1];
}

/** Registers the upstream, an agent with a grant, and opens an MCP session; returns the request maker. */
async function prepare(server: BenchServer, upstream: string): Promise<Side['requests']> {
  await server.admin('POST', '/api/v1/gateway/servers', {
    name: 'bench',
    transport: { type: 'http', url: `${upstream}/mcp` },
  });
  await server.admin('POST', '/api/v1/users', { email: 'bench@example.com', name: 'Bench' });
  const resource = `${server.url}/mcp/bench`;
  const agent = await benchAgent(server, { owner: 'bench@example.com', allowedAudiences: [resource] });
  const agentId = agent.id;
  await server.admin('POST', '/api/v1/grants', {
    principal: { type: 'Agent', id: agentId },
    action: 'tools/call',
    resource: { type: 'Tool', id: 'bench/echo' },
    reason: 'bench',
  });
  const now = Math.floor(Date.now() / 1000);
  const assertion = await clientAssertion(agent, server.url, now, 60);
  const tokenResponse = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: agentId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
      resource,
    }),
  });
  const token = String(((await tokenResponse.json()) as { access_token?: string }).access_token);
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = await fetch(resource, {
    method: 'POST',
    headers: { ...headers, authorization: `Bearer ${token}` },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'bench', version: '1' },
      },
    }),
  });
  const session = init.headers.get('mcp-session-id');
  await init.text();
  if (!session) throw new Error(`initialize: ${init.status}`);
  return (n) =>
    Array.from({ length: n }, (_, i) => ({
      path: '/mcp/bench',
      headers: {
        ...headers,
        'mcp-protocol-version': '2025-06-18',
        'mcp-session-id': session,
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: i,
        method: 'tools/call',
        params: { name: 'echo', arguments: { message: `m${i}` } },
      }),
    }));
}

/** The audit log's head and how far the node's pipeline has processed it (in memory, not the persisted cursor). */
async function status(server: BenchServer): Promise<{ head: number; cursor: number }> {
  const s = await server.admin('GET', '/api/v1/monitor/status');
  return { head: Number(s.head), cursor: Number(s.processed ?? s.cursor ?? 0) };
}

function merge(results: readonly LoadResult[]): LoadResult {
  return {
    ok: results.reduce((n, r) => n + r.ok, 0),
    failed: results.reduce((n, r) => n + r.failed, 0),
    seconds: results.reduce((n, r) => n + r.seconds, 0),
    latenciesMs: results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b),
    firstError: results.find((r) => r.firstError)?.firstError ?? null,
  };
}

async function gateway(): Promise<string[]> {
  const upstream = await startUpstream();
  const env = { CUSTOS_GATEWAY_AGENT_RATE: '0', CUSTOS_ACCESS_TOKEN_TTL: '3600' };
  const on = await startBenchServer({
    ...env,
    CUSTOS_MONITOR_ENABLED: 'true',
    CUSTOS_MONITOR_LEARNING_SECONDS: '0',
  });
  const off = await startBenchServer({ ...env, CUSTOS_MONITOR_ENABLED: 'false' });
  try {
    const sides: Side[] = [
      { name: 'monitoring off', server: off, requests: await prepare(off, upstream.url) },
      { name: 'monitoring on', server: on, requests: await prepare(on, upstream.url) },
    ];
    for (const side of sides) await runLoad(side.server.url, side.requests(300), CONCURRENCY);
    const results = new Map<string, LoadResult[]>(sides.map((s) => [s.name, []]));
    const cpu = new Map<string, number>(sides.map((s) => [s.name, 0]));
    let maxBehind = 0;
    let maxCatchUpMs = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
        const requests = side.requests(CALLS / ROUNDS);
        // both servers are sampled alike (the status request is load too); only the monitor's position counts
        let sampling = true;
        const sampler = (async () => {
          while (sampling) {
            const s = await status(side.server);
            if (side.server === on) maxBehind = Math.max(maxBehind, s.head - s.cursor);
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        const before = side.server.cpuMicros();
        const result = await runLoad(side.server.url, requests, CONCURRENCY);
        sampling = false;
        await sampler;
        if (side.server === on) {
          // the lag at the end of the load: how long until the monitor has seen every event written
          const { head } = await status(on);
          const stopped = Date.now();
          for (;;) {
            const s = await status(on);
            if (s.cursor >= head) break;
            await new Promise((r) => setTimeout(r, 10));
          }
          maxCatchUpMs = Math.max(maxCatchUpMs, Date.now() - stopped);
        }
        cpu.set(side.name, (cpu.get(side.name) ?? 0) + side.server.cpuMicros() - before);
        if (result.failed > 0)
          throw new Error(`${side.name}: ${result.failed} failed; first: ${result.firstError}`);
        results.get(side.name)?.push(result);
      }
    }
    const rows = sides.map((side) => {
      const r = merge(results.get(side.name) ?? []);
      return {
        name: side.name,
        p50: percentile(r.latenciesMs, 50),
        p99: percentile(r.latenciesMs, 99),
        rate: r.ok / r.seconds,
        cpu: (cpu.get(side.name) ?? 0) / r.ok,
      };
    });
    const [offRow, onRow] = rows as [(typeof rows)[number], (typeof rows)[number]];
    const findings = (await on.admin('GET', '/api/v1/monitor/status')).findings;
    return [
      `gateway with monitoring on and off: MCP tools/call with a Bearer token (audit durable), ${CALLS} calls per server in ${ROUNDS} interleaved rounds, ${CONCURRENCY} concurrent connections; two custos serve processes (SQLite) and the upstream each in their own process; Node ${process.version}, ${cpus().length} cores, load average at the end ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
      '',
      '| server | p50 ms | p99 ms | calls/s | server CPU µs/call |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.rate.toFixed(0)} | ${r.cpu.toFixed(0)} |`,
      ),
      `| **difference (on − off)** | **${(onRow.p50 - offRow.p50).toFixed(3)}** | **${(onRow.p99 - offRow.p99).toFixed(3)}** | ${(onRow.rate - offRow.rate).toFixed(0)} | **${(onRow.cpu - offRow.cpu).toFixed(0)}** |`,
      '',
      `monitor lag at this load: at most ${maxBehind} audit events behind while sampled every 100 ms; caught up at most ${maxCatchUpMs} ms after a round's last call (goal ≤ 1000 ms); findings meanwhile ${JSON.stringify(findings)}`,
      '',
    ];
  } finally {
    await on.stop();
    await off.stop();
    upstream.stop();
  }
}

process.stdout.write(`${detectors().join('\n')}\n`);
process.stdout.write(`${(await gateway()).join('\n')}\n`);
