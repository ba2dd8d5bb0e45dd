/**
 * What the gateway adds to a call: the same requests sent to the upstream
 * directly and through `custos serve` (SQLite, its own process), measured in
 * the same run at moderate load. MCP `tools/call` with a Bearer and with a
 * DPoP-bound token (a fresh proof per request), and an HTTP API GET. Each is
 * decided by the Cedar engine (a grant), rate-limited, audited and given the
 * injected upstream credential from the vault. Both audit modes are measured:
 * `durable` (the authorization is committed before the upstream is called)
 * and `fast` (the record is written after the call, not awaited). A second
 * floor, also in the same rounds: a bare Node.js proxy (bench/bare-proxy.ts)
 * in front of the same upstream that also does the work each case cannot
 * avoid (verifying a DPoP proof's signature; in `durable` mode, committing a
 * row before forwarding), which shows what that costs here; the gateway's own
 * cost is what it adds over that floor.
 *
 * Latency is measured at moderate load: an open loop at BENCH_RATE calls per
 * second (default 400, about a fifth of what one gateway process serves here),
 * so the gateway has idle time between calls as below saturation in
 * production. Throughput and CPU per call come from a closed loop of
 * BENCH_CONCURRENCY connections (default 4), which saturates the gateway; its
 * latencies are printed too, as latency at saturation.
 *
 * Run: npm run bench -- gateway   (env BENCH_CALLS, BENCH_PACED_CALLS, BENCH_RATE, BENCH_CONCURRENCY,
 * BENCH_MODES=fast, BENCH_CASES=<part of a case name>, BENCH_PACED_SOCKETS: connections of the
 * open loop, default 16)
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { freePort } from '../packages/server/test/support/server.js';
import {
  benchAgent,
  clientAssertion,
  type LoadResult,
  percentile,
  runLoad,
  runPaced,
  startBenchServer,
  startHelper,
  threadSplit,
} from './support.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 4000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const RATE = Number(process.env.BENCH_RATE ?? 400);
const PACED_CALLS = Number(process.env.BENCH_PACED_CALLS ?? 3000);
const ROUNDS = 10;
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1000);
/** Only these audit modes (comma-separated), and only cases whose name contains BENCH_CASES: for quick iterations. */
const MODES = (process.env.BENCH_MODES ?? 'durable,fast').split(',') as ('durable' | 'fast')[];
const CASE_FILTER = process.env.BENCH_CASES ?? '';
const UPSTREAM_KEY = `bench-${randomBytes(12).toString('hex')}`;

async function startUpstream(): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const helper = await startHelper('gateway-upstream.ts', [String(port)]);
  return { url: `http://127.0.0.1:${port}`, stop: helper.stop };
}

/**
 * The floor proxy in front of the upstream (bench/bare-proxy.ts), committing a
 * row per call before forwarding it in `durable` mode; returns its base URL.
 */
async function startBareProxy(
  upstreamUrl: string,
  mode: 'durable' | 'fast',
): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'custos-bench-floor-'));
  const helper = await startHelper('bare-proxy.ts', [
    String(port),
    new URL(upstreamUrl).port,
    ...(mode === 'durable' ? ['--durable', join(dir, 'floor.db')] : []),
  ]);
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => {
      helper.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Sides {
  readonly direct: LoadResult;
  readonly bare: LoadResult;
  readonly gateway: LoadResult;
}

interface Row {
  readonly name: string;
  /** Closed loop (saturation): throughput, CPU and latency under full load. */
  readonly saturated: Sides;
  /** Open loop at RATE calls/s: latency at moderate load. */
  readonly paced: Sides;
  readonly serverCpuUs: number;
  readonly threads: string;
}

const ms = (n: number) => n.toFixed(3);

function merge(results: readonly LoadResult[]): LoadResult {
  return {
    ok: results.reduce((n, r) => n + r.ok, 0),
    failed: results.reduce((n, r) => n + r.failed, 0),
    seconds: results.reduce((n, r) => n + r.seconds, 0),
    latenciesMs: results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b),
    firstError: results.find((r) => r.firstError)?.firstError ?? null,
  };
}

async function main(): Promise<void> {
  const upstream = await startUpstream();
  const rows: Row[] = [];
  const pacing = { late: 0, sent: 0 };
  const gcLines: string[] = [];
  try {
    for (const mode of MODES) {
      const bareProxy = await startBareProxy(upstream.url, mode);
      const server = await startBenchServer({
        CUSTOS_GATEWAY_AUDIT_MODE: mode,
        CUSTOS_GATEWAY_AGENT_RATE: '0',
        CUSTOS_DPOP_MAX_AGE: '600',
        CUSTOS_ACCESS_TOKEN_TTL: '3600',
      });
      try {
        const issuer = server.url;
        await server.admin('PUT', '/api/v1/secrets/upstream-key', { value: UPSTREAM_KEY });
        await server.admin('POST', '/api/v1/gateway/servers', {
          name: 'bench',
          transport: { type: 'http', url: `${upstream.url}/mcp` },
          auth: { type: 'header', header: 'x-api-key', secret: 'upstream-key' },
        });
        await server.admin('POST', '/api/v1/gateway/apis', {
          name: 'billing',
          baseUrl: `${upstream.url}/api`,
          routes: [{ method: 'POST', path: '/invoices/{id}' }],
          auth: { type: 'bearer', secret: 'upstream-key' },
        });
        await server.admin('POST', '/api/v1/users', { email: 'bench@example.com', name: 'Bench' });
        const mcpResource = `${issuer}/mcp/bench`;
        const apiResource = `${issuer}/gw/billing`;
        const agent = await benchAgent(server, {
          owner: 'bench@example.com',
          allowedAudiences: [mcpResource, apiResource],
        });
        const agentId = agent.id;
        for (const [action, resource] of [
          ['tools/call', { type: 'Tool', id: 'bench/echo' }],
          ['http:POST', { type: 'Route', id: 'billing/POST /invoices/{id}' }],
        ] as const) {
          await server.admin('POST', '/api/v1/grants', {
            principal: { type: 'Agent', id: agentId },
            action,
            resource,
            reason: 'bench',
          });
        }
        const dpopKeys = await generateKeyPair('ES256', { extractable: true });
        const dpopJwk: JWK = await exportJWK(dpopKeys.publicKey);

        async function token(resource: string, dpop: boolean): Promise<string> {
          const now = Math.floor(Date.now() / 1000);
          const assertion = await clientAssertion(agent, issuer, now, 60);
          const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
          if (dpop) headers.dpop = await proof('POST', `${issuer}/oauth/token`);
          const response = await fetch(`${issuer}/oauth/token`, {
            method: 'POST',
            headers,
            body: new URLSearchParams({
              grant_type: 'client_credentials',
              client_id: agentId,
              client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
              client_assertion: assertion,
              resource,
            }),
          });
          const body = (await response.json()) as { access_token?: string };
          if (!body.access_token) throw new Error(`token: ${JSON.stringify(body)}`);
          return body.access_token;
        }
        async function proof(htm: string, htu: string, accessToken?: string): Promise<string> {
          return new SignJWT({
            htm,
            htu,
            jti: randomBytes(16).toString('base64url'),
            ...(accessToken ? { ath: createHash('sha256').update(accessToken).digest('base64url') } : {}),
          })
            .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: dpopJwk })
            .setIssuedAt()
            .sign(dpopKeys.privateKey);
        }
        /** Opens an MCP session through the gateway (or directly); returns its id. */
        async function openSession(base: string, auth: Record<string, string>): Promise<string> {
          const response = await fetch(`${base}`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              ...auth,
            },
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
          const id = response.headers.get('mcp-session-id');
          await response.text();
          if (response.status !== 200 || !id) throw new Error(`initialize: ${response.status}`);
          return id;
        }
        const call = (i: number) =>
          JSON.stringify({
            jsonrpc: '2.0',
            id: i,
            method: 'tools/call',
            params: { name: 'echo', arguments: { message: `hello ${i}` } },
          });
        const mcpHeaders = {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-06-18',
        };

        const bearerMcp = await token(mcpResource, false);
        const boundMcp = await token(mcpResource, true);
        const bearerApi = await token(apiResource, false);
        const directSession = await openSession(`${upstream.url}/mcp`, { 'x-api-key': UPSTREAM_KEY });
        const bearerSession = await openSession(mcpResource.replace(issuer, server.url), {
          authorization: `Bearer ${bearerMcp}`,
        });
        const boundSession = await openSession(mcpResource.replace(issuer, server.url), {
          authorization: `DPoP ${boundMcp}`,
          dpop: await proof('POST', mcpResource, boundMcp),
        });

        const cases: {
          name: string;
          direct: (n: number) => Promise<Parameters<typeof runLoad>[1]>;
          gateway: (n: number) => Promise<Parameters<typeof runLoad>[1]>;
        }[] = [
          {
            name: 'MCP tools/call, Bearer token',
            direct: async (n) =>
              Array.from({ length: n }, (_, i) => ({
                path: '/mcp',
                headers: { ...mcpHeaders, 'mcp-session-id': directSession, 'x-api-key': UPSTREAM_KEY },
                body: call(i),
              })),
            gateway: async (n) =>
              Array.from({ length: n }, (_, i) => ({
                path: '/mcp/bench',
                headers: {
                  ...mcpHeaders,
                  'mcp-session-id': bearerSession,
                  authorization: `Bearer ${bearerMcp}`,
                },
                body: call(i),
              })),
          },
          {
            name: 'MCP tools/call, DPoP-bound token',
            direct: async (n) =>
              Array.from({ length: n }, (_, i) => ({
                path: '/mcp',
                headers: { ...mcpHeaders, 'mcp-session-id': directSession, 'x-api-key': UPSTREAM_KEY },
                body: call(i),
              })),
            gateway: async (n) => {
              const out = [];
              for (let i = 0; i < n; i++) {
                out.push({
                  path: '/mcp/bench',
                  headers: {
                    ...mcpHeaders,
                    'mcp-session-id': boundSession,
                    authorization: `DPoP ${boundMcp}`,
                    dpop: await proof('POST', mcpResource, boundMcp),
                  },
                  body: call(i),
                });
              }
              return out;
            },
          },
          {
            name: 'HTTP API POST, Bearer token',
            direct: async (n) =>
              Array.from({ length: n }, (_, i) => ({
                path: `/api/invoices/${i}`,
                headers: { 'content-type': 'application/json', authorization: `Bearer ${UPSTREAM_KEY}` },
                body: '{"amount":1}',
              })),
            gateway: async (n) =>
              Array.from({ length: n }, (_, i) => ({
                path: `/gw/billing/invoices/${i}`,
                headers: { 'content-type': 'application/json', authorization: `Bearer ${bearerApi}` },
                body: '{"amount":1}',
              })),
          },
        ];
        for (const c of cases.filter((k) => k.name.includes(CASE_FILTER))) {
          // warm path: both sides run the case first (JIT, caches, connections), unmeasured
          await runLoad(upstream.url, await c.direct(WARMUP), CONCURRENCY);
          await runLoad(server.url, await c.gateway(WARMUP), CONCURRENCY);
          await runLoad(bareProxy.url, await c.gateway(WARMUP), CONCURRENCY);
          // interleaved rounds, so both paths see the same machine (other load comes and goes)
          const directRounds: LoadResult[] = [];
          const bareRounds: LoadResult[] = [];
          const gatewayRounds: LoadResult[] = [];
          let cpu = 0;
          const threads = new Map<string, number>();
          for (let round = 0; round < ROUNDS; round++) {
            const directRequests = await c.direct(CALLS / ROUNDS);
            const gatewayRequests = await c.gateway(CALLS / ROUNDS);
            const bareRequests = await c.gateway(CALLS / ROUNDS);
            directRounds.push(await runLoad(upstream.url, directRequests, CONCURRENCY));
            bareRounds.push(await runLoad(bareProxy.url, bareRequests, CONCURRENCY));
            const cpuBefore = server.cpuMicros();
            const threadsBefore = server.threadCpuMicros();
            gatewayRounds.push(await runLoad(server.url, gatewayRequests, CONCURRENCY));
            cpu += server.cpuMicros() - cpuBefore;
            for (const [tid, us] of server.threadCpuMicros()) {
              threads.set(tid, (threads.get(tid) ?? 0) + us - (threadsBefore.get(tid) ?? us));
            }
          }
          const saturated = {
            direct: merge(directRounds),
            bare: merge(bareRounds),
            gateway: merge(gatewayRounds),
          };
          const serverCpuUs = cpu / Math.max(1, saturated.gateway.ok);
          // moderate load: the same three paths at a fixed rate, interleaved in rounds too
          const paced = { direct: [] as LoadResult[], bare: [] as LoadResult[], gateway: [] as LoadResult[] };
          for (let round = 0; round < ROUNDS; round++) {
            const n = PACED_CALLS / ROUNDS;
            for (const [side, target, requests] of [
              [paced.direct, upstream.url, await c.direct(n)],
              [paced.bare, bareProxy.url, await c.gateway(n)],
              [paced.gateway, server.url, await c.gateway(n)],
            ] as const) {
              const run = await runPaced(
                target,
                requests,
                RATE,
                Number(process.env.BENCH_PACED_SOCKETS ?? 16),
              );
              side.push(run);
              pacing.late += run.late;
              pacing.sent += run.ok + run.failed;
            }
          }
          const moderate = {
            direct: merge(paced.direct),
            bare: merge(paced.bare),
            gateway: merge(paced.gateway),
          };
          for (const [what, result] of [
            ['direct', saturated.direct],
            ['bare proxy', saturated.bare],
            ['gateway', saturated.gateway],
            ['direct (paced)', moderate.direct],
            ['bare proxy (paced)', moderate.bare],
            ['gateway (paced)', moderate.gateway],
          ] as const) {
            if (result.failed > 0)
              throw new Error(`${c.name} ${what}: ${result.failed} failed; first: ${result.firstError}`);
          }
          rows.push({
            name: `${c.name} (audit ${mode})`,
            saturated,
            paced: moderate,
            serverCpuUs,
            threads: threadSplit(new Map(), threads, Math.max(1, saturated.gateway.ok)),
          });
        }
        // the server's garbage collections over the whole run of this mode (the main source of the p99)
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        const gc = (kind: string, what: 'count' | 'sum') =>
          Number(
            new RegExp(`^custos_nodejs_gc_duration_seconds_${what}\\{kind="${kind}"\\} (\\S+)$`, 'm').exec(
              metrics,
            )?.[1] ?? 0,
          );
        gcLines.push(
          `- audit ${mode}: ${['minor', 'incremental', 'major'].map((k) => `${gc(k, 'count')} ${k} (${(1000 * gc(k, 'sum')).toFixed(0)} ms)`).join(', ')}`,
        );
      } finally {
        await server.stop();
        bareProxy.stop();
      }
    }
  } finally {
    upstream.stop();
  }
  const added = (sides: Sides, p: number) =>
    percentile(sides.gateway.latenciesMs, p) - percentile(sides.direct.latenciesMs, p);
  const bareAdded = (sides: Sides, p: number) =>
    percentile(sides.bare.latenciesMs, p) - percentile(sides.direct.latenciesMs, p);
  const overFloor = (sides: Sides, p: number) =>
    percentile(sides.gateway.latenciesMs, p) - percentile(sides.bare.latenciesMs, p);
  const lines = [
    `gateway: custos serve on SQLite (synchronous=FULL, group commit) and the upstream each in their own process; Node ${process.version}, ${cpus().length} cores, load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
    '',
    `### At moderate load: ${RATE} calls/s, open loop (${PACED_CALLS} calls per case and path in ${ROUNDS} interleaved rounds)`,
    '',
    '| case | direct p50 ms | direct p99 ms | gateway p50 ms | gateway p99 ms | **added p50 ms** | **added p99 ms** | floor added p50 / p99 ms | gateway over floor p50 / p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => {
      const { paced } = r;
      return `| ${r.name} | ${ms(percentile(paced.direct.latenciesMs, 50))} | ${ms(percentile(paced.direct.latenciesMs, 99))} | ${ms(percentile(paced.gateway.latenciesMs, 50))} | ${ms(percentile(paced.gateway.latenciesMs, 99))} | **${ms(added(paced, 50))}** | **${ms(added(paced, 99))}** | ${ms(bareAdded(paced, 50))} / ${ms(bareAdded(paced, 99))} | ${ms(overFloor(paced, 50))} / ${ms(overFloor(paced, 99))} |`;
    }),
    '',
    `Latency runs from the moment each call was due; ${pacing.late} of ${pacing.sent} paced calls were written more than 1 ms late (all connections busy, or the load generator's timer late).`,
    '',
    `### At saturation: closed loop, ${CONCURRENCY} connections (${CALLS} calls per case and path in ${ROUNDS} interleaved rounds)`,
    '',
    '| case | gateway calls/s | direct calls/s | gateway CPU µs/call | added p50 ms | added p99 ms | floor added p50 / p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => {
      const { saturated } = r;
      return `| ${r.name} | ${(saturated.gateway.ok / saturated.gateway.seconds).toFixed(0)} | ${(saturated.direct.ok / saturated.direct.seconds).toFixed(0)} | ${r.serverCpuUs.toFixed(0)} | ${ms(added(saturated, 50))} | ${ms(added(saturated, 99))} | ${ms(bareAdded(saturated, 50))} / ${ms(bareAdded(saturated, 99))} |`;
    }),
    '',
    'gateway CPU µs/call by thread (at saturation):',
    ...rows.map((r) => `- ${r.name}: ${r.threads}`),
    '',
    "gateway garbage collections over each server's whole run (warm-up, saturation and moderate load), count and total pause:",
    ...gcLines,
    '',
    "floor: the simplest Node.js reverse proxy (bench/bare-proxy.ts: keep-alive http.request) in front of the same upstream, measured in the same interleaved rounds, doing only the work the case cannot avoid, the cheapest way: a DPoP-bound call's proof signature verified (node:crypto, synchronously); in `durable` mode one row committed to SQLite (WAL, synchronous=FULL: one fsync) before the call is forwarded. No token check, decision, rate limit or audit record. `gateway over floor` is what the gateway's own work adds on top.",
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

await main();
