/**
 * Token endpoint throughput: client_credentials + private_key_jwt, with and
 * without DPoP, against `custos serve` (SQLite, durable group commit) in its own
 * process. The floor, measured in the same run on this machine, is the raw
 * node:crypto work a grant cannot avoid: one ES256 verify (the assertion; two
 * with DPoP) and one ES256 sign (the token). A second floor, in the same run:
 * a bare token server (bench/bare-token-server.ts) that does only that work
 * behind HTTP on this machine, with the same load generator, which shows how
 * much of the gap to the first floor any Node.js token server has here. A
 * third, the same bare server with `--durable`: it also commits the single-use
 * claims and a token row to SQLite before answering (the least a token server
 * that refuses replays across processes and records its tokens does).
 *
 * Run: npm run bench -- token-grant   (env BENCH_GRANTS, default 10000 measured grants per
 * case, after BENCH_WARMUP, default 2000 unmeasured ones: the JIT and caches warm)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { freePort } from '../packages/server/test/support/server.js';
import {
  benchAgent,
  busyPercent,
  clientAssertion,
  es256Floor,
  fasterFloor,
  machineCpu,
  percentile,
  processCpuMicros,
  runLoad,
  startBenchServer,
  startHelper,
  threadSplit,
} from './support.js';

const GRANTS = Number(process.env.BENCH_GRANTS ?? 10000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);

/** Rate and CPU per grant of a helper server (its own process) under the same load, after a warm-up. */
async function measureHelper(
  url: string,
  pid: number,
  warmUp: Parameters<typeof runLoad>[1],
  requests: Parameters<typeof runLoad>[1],
): Promise<{ rate: number; cpu: number }> {
  await runLoad(url, warmUp, CONCURRENCY);
  const cpuBefore = processCpuMicros(pid);
  const result = await runLoad(url, requests, CONCURRENCY);
  if (result.failed > 0)
    throw new Error(`${result.failed} grants failed at ${url}; first: ${result.firstError}`);
  return { rate: result.ok / result.seconds, cpu: (processCpuMicros(pid) - cpuBefore) / result.ok };
}

async function main(): Promise<void> {
  const server = await startBenchServer({ CUSTOS_DPOP_MAX_AGE: '600' });
  let bare: { readonly pid: number; stop(): void } | null = null;
  let durable: { readonly pid: number; stop(): void } | null = null;
  try {
    const audience = 'https://api.example.com';
    await server.admin('POST', '/api/v1/users', { email: 'bench@example.com', name: 'Bench' });
    const agent = await benchAgent(server, {
      owner: 'bench@example.com',
      allowedScopes: ['read'],
      allowedAudiences: [audience],
    });
    // the second floor: a bare token server that knows the agent's public key
    const { d: _private, ...agentPublicJwk } = await exportJWK(agent.privateKey);
    const barePort = await freePort();
    bare = await startHelper('bare-token-server.ts', [String(barePort), JSON.stringify(agentPublicJwk)]);
    const bareUrl = `http://127.0.0.1:${barePort}`;
    // the third: the same, plus the durable single-use claims and token record
    const durablePort = await freePort();
    durable = await startHelper('bare-token-server.ts', [
      String(durablePort),
      JSON.stringify(agentPublicJwk),
      '--durable',
      join(mkdtempSync(join(tmpdir(), 'custos-bench-bare-')), 'grants.db'),
    ]);
    const durableUrl = `http://127.0.0.1:${durablePort}`;
    const dpopKeys = await generateKeyPair('ES256', { extractable: true });
    const dpopJwk = await exportJWK(dpopKeys.publicKey);
    const tokenUrl = `${server.url}/oauth/token`;

    async function prepare(n: number, withDpop: boolean) {
      const now = Math.floor(Date.now() / 1000);
      const requests = [];
      for (let i = 0; i < n; i++) {
        const assertion = await clientAssertion(agent, server.url, now, 290);
        const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
        if (withDpop) {
          headers.dpop = await new SignJWT({
            htm: 'POST',
            htu: tokenUrl,
            jti: randomBytes(16).toString('base64url'),
          })
            .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: dpopJwk })
            .setIssuedAt(now)
            .sign(dpopKeys.privateKey);
        }
        const body = new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: agent.id,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
          scope: 'read',
          resource: audience,
        }).toString();
        requests.push({ path: '/oauth/token', headers, body });
      }
      return requests;
    }

    let f = es256Floor();
    const rows: string[] = [];
    const splits: string[] = [];
    for (const withDpop of [false, true]) {
      await runLoad(server.url, await prepare(WARMUP, withDpop), CONCURRENCY); // warm-up, unmeasured
      const requests = await prepare(GRANTS, withDpop);
      const cpuBefore = server.cpuMicros();
      const threadsBefore = server.threadCpuMicros();
      const machineBefore = machineCpu();
      const clientBefore = process.cpuUsage();
      const result = await runLoad(server.url, requests, CONCURRENCY);
      const serverCpu = (server.cpuMicros() - cpuBefore) / result.ok;
      splits.push(
        `${withDpop ? 'private_key_jwt + DPoP' : 'private_key_jwt'}: ${threadSplit(threadsBefore, server.threadCpuMicros(), result.ok)}; machine ${busyPercent(machineBefore, machineCpu()).toFixed(0)}% busy`,
      );
      const clientCpuUsage = process.cpuUsage(clientBefore);
      const clientCpu = (clientCpuUsage.user + clientCpuUsage.system) / result.ok;
      if (result.failed > 0) throw new Error(`${result.failed} grants failed; first: ${result.firstError}`);
      f = fasterFloor(f, es256Floor()); // taken again after the load: the faster of the two counts
      // the bare token servers with the same requests, after a warm-up (fresh requests
      // for the durable one, which refuses a replayed jti; the other remembers none)
      const bareRun = await measureHelper(bareUrl, bare.pid, requests.slice(0, WARMUP), requests);
      const durableRun = await measureHelper(
        durableUrl,
        durable.pid,
        await prepare(WARMUP, withDpop),
        requests,
      );
      const rate = result.ok / result.seconds;
      const floorUs = f.signUs + f.verifyUs * (withDpop ? 2 : 1);
      const floorRate = 1e6 / floorUs;
      const helper = (run: { rate: number; cpu: number }) =>
        `${run.rate.toFixed(0)} (${(run.rate / floorRate).toFixed(2)}×) | ${run.cpu.toFixed(0)} | ${(rate / run.rate).toFixed(2)}×`;
      rows.push(
        `| ${withDpop ? 'private_key_jwt + DPoP' : 'private_key_jwt'} | ${rate.toFixed(0)} | ${percentile(result.latenciesMs, 50).toFixed(2)} | ${percentile(result.latenciesMs, 99).toFixed(2)} | ${floorRate.toFixed(0)} | **${(rate / floorRate).toFixed(2)}×** | ${serverCpu.toFixed(0)} | ${floorUs.toFixed(0)} | ${clientCpu.toFixed(0)} | ${helper(bareRun)} | ${helper(durableRun)} |`,
      );
    }

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const stat = (name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN);
    const batches = stat('custos_group_commit_units_count');
    const labelled = (name: string) =>
      Number(
        new RegExp(`^${name}\\{[^}]*route="/oauth/token"[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1] ??
          Number.NaN,
      );
    const inServerMs =
      (1000 * labelled('custos_http_request_duration_seconds_sum')) /
      labelled('custos_http_request_duration_seconds_count');
    process.stdout.write(
      [
        `token grants: ${GRANTS} per case after ${WARMUP} unmeasured, ${CONCURRENCY} concurrent connections, custos serve on SQLite (synchronous=FULL, group commit)`,
        `floor: raw node:crypto ES256 sign ${f.signUs.toFixed(1)} µs, verify ${f.verifyUs.toFixed(1)} µs (one core; the fastest of the measurements before and after each case, each the best of five rounds)`,
        '',
        '| grant | grants/s | p50 ms | p99 ms | floor grants/s | ratio to floor | server CPU µs/grant | floor µs/grant | load-generator CPU µs/grant | bare token server grants/s (to floor) | its CPU µs/grant | Custos to it | durable bare server grants/s (to floor) | its CPU µs/grant | Custos to it |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...rows,
        '',
        'server CPU µs/grant by thread:',
        ...splits.map((line) => `- ${line}`),
        '',
        `time in the server per grant (request read to response sent, all cases): ${inServerMs.toFixed(2)} ms on average`,
        'bare token server: bench/bare-token-server.ts in its own process, the same requests and load generator: HTTP, the form, the signatures on the thread pool (the assertion, the DPoP proof, the token), no claim checked, nothing remembered or recorded: the least any Node.js token server does per grant on this machine.',
        'durable bare server: the same with --durable: it also commits, before answering, the single-use claims of the assertion and proof jti and a row for the token to SQLite (WAL, synchronous=FULL), grants arriving together in one commit on the event loop: the least a token server that refuses replays across processes and records its tokens does per grant here.',
        `group commit: ${batches} batches, ${(stat('custos_group_commit_units_sum') / batches).toFixed(1)} units per batch on average, ${((1000 * stat('custos_group_commit_seconds_sum')) / batches).toFixed(2)} ms per durable batch write`,
        '',
      ].join('\n'),
    );
  } finally {
    bare?.stop();
    durable?.stop();
    await server.stop();
  }
}

await main();
