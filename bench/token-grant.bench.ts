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
 * Each case runs BENCH_ROUNDS rounds (default 3) of BENCH_GRANTS grants (default 5000)
 * after BENCH_WARMUP unmeasured ones (default 2000: the JIT and caches warm). A round
 * runs Custos, the bare and the durable bare servers (who goes first turns), with the same requests,
 * so each round's ratios compare servers measured within a few seconds of each other;
 * the table gives medians, and the spread of the rounds is printed below it.
 *
 * Run: npm run bench -- token-grant   (env BENCH_ROUNDS, BENCH_GRANTS, BENCH_WARMUP, BENCH_CONCURRENCY)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
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

const GRANTS = Number(process.env.BENCH_GRANTS ?? 5000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);

/** Rate and CPU per grant of a helper server (its own process) under the same load. */
async function measureHelper(
  url: string,
  pid: number,
  requests: Parameters<typeof runLoad>[1],
): Promise<{ rate: number; cpu: number }> {
  const cpuBefore = processCpuMicros(pid);
  const result = await runLoad(url, requests, CONCURRENCY);
  if (result.failed > 0)
    throw new Error(`${result.failed} grants failed at ${url}; first: ${result.firstError}`);
  return { rate: result.ok / result.seconds, cpu: (processCpuMicros(pid) - cpuBefore) / result.ok };
}

interface Round {
  readonly custos: { readonly rate: number; readonly cpu: number; readonly clientCpu: number };
  readonly bare: { readonly rate: number; readonly cpu: number };
  readonly durable: { readonly rate: number; readonly cpu: number };
}

/**
 * Runs `tasks` one after another, the one at `first` (wrapping) first, and
 * answers their results in their own order: who goes first turns from round to
 * round, so no server always meets the machine in the same state.
 */
async function inTurn<T extends unknown[]>(
  first: number,
  ...tasks: { [K in keyof T]: () => Promise<T[K]> }
): Promise<T> {
  const results: unknown[] = [];
  for (let i = 0; i < tasks.length; i++) {
    const k = (first + i) % tasks.length;
    results[k] = await tasks[k]?.();
  }
  return results as T;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function main(): Promise<void> {
  const server = await startBenchServer({ CUSTOS_DPOP_MAX_AGE: '600' });
  let bare: { readonly pid: number; stop(): void } | null = null;
  let durable: { readonly pid: number; stop(): void } | null = null;
  const durableDir = mkdtempSync(join(tmpdir(), 'custos-bench-bare-'));
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
      join(durableDir, 'grants.db'),
    ]);
    const durableUrl = `http://127.0.0.1:${durablePort}`;
    const barePid = bare.pid;
    const durablePid = durable.pid;
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
    const spreads: string[] = [];
    const splits: string[] = [];
    for (const withDpop of [false, true]) {
      const label = withDpop ? 'private_key_jwt + DPoP' : 'private_key_jwt';
      // warm-ups, unmeasured (fresh requests for the durable bare server, which refuses a replayed jti)
      await runLoad(server.url, await prepare(WARMUP, withDpop), CONCURRENCY);
      const warm = await prepare(WARMUP, withDpop);
      await runLoad(bareUrl, warm, CONCURRENCY);
      await runLoad(durableUrl, warm, CONCURRENCY);
      const rounds: Round[] = [];
      const latencies: number[] = [];
      const threadsBefore = server.threadCpuMicros();
      const machineBefore = machineCpu();
      let granted = 0;
      for (let round = 0; round < ROUNDS; round++) {
        // each round: Custos, the bare and the durable bare servers, with the same new requests
        const requests = await prepare(GRANTS, withDpop);
        const [custos, bareRun, durableRun] = await inTurn(
          round,
          async () => {
            const cpuBefore = server.cpuMicros();
            const clientBefore = process.cpuUsage();
            const result = await runLoad(server.url, requests, CONCURRENCY);
            if (result.failed > 0)
              throw new Error(`${result.failed} grants failed; first: ${result.firstError}`);
            const client = process.cpuUsage(clientBefore);
            granted += result.ok;
            latencies.push(...result.latenciesMs);
            return {
              rate: result.ok / result.seconds,
              cpu: (server.cpuMicros() - cpuBefore) / result.ok,
              clientCpu: (client.user + client.system) / result.ok,
            };
          },
          () => measureHelper(bareUrl, barePid, requests),
          () => measureHelper(durableUrl, durablePid, requests),
        );
        f = fasterFloor(f, es256Floor()); // taken again after each round: the fastest counts
        rounds.push({ custos, bare: bareRun, durable: durableRun });
      }
      splits.push(
        `${label}: ${threadSplit(threadsBefore, server.threadCpuMicros(), granted)}; machine ${busyPercent(machineBefore, machineCpu()).toFixed(0)}% busy (the bare servers' rounds included)`,
      );
      const floorUs = f.signUs + f.verifyUs * (withDpop ? 2 : 1);
      const floorRate = 1e6 / floorUs;
      const med = (pick: (r: Round) => number) => median(rounds.map(pick));
      const rate = med((r) => r.custos.rate);
      const helper = (run: (r: Round) => { rate: number; cpu: number }) =>
        `${med((r) => run(r).rate).toFixed(0)} (${(med((r) => run(r).rate) / floorRate).toFixed(2)}×) | ${med((r) => run(r).cpu).toFixed(0)} | ${med((r) => r.custos.rate / run(r).rate).toFixed(2)}×`;
      latencies.sort((a, b) => a - b);
      rows.push(
        `| ${label} | ${rate.toFixed(0)} | ${percentile(latencies, 50).toFixed(2)} | ${percentile(latencies, 99).toFixed(2)} | ${floorRate.toFixed(0)} | **${(rate / floorRate).toFixed(2)}×** | ${med((r) => r.custos.cpu).toFixed(0)} | ${floorUs.toFixed(0)} | ${med((r) => r.custos.clientCpu).toFixed(0)} | ${helper((r) => r.bare)} | ${helper((r) => r.durable)} |`,
      );
      const range = (values: number[]) =>
        `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}×`;
      spreads.push(
        `${label}: to the floor ${range(rounds.map((r) => r.custos.rate / floorRate))}, to the bare server ${range(rounds.map((r) => r.custos.rate / r.bare.rate))}, to the durable bare server ${range(rounds.map((r) => r.custos.rate / r.durable.rate))}`,
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
        `token grants: ${ROUNDS} rounds of ${GRANTS} per case after ${WARMUP} unmeasured, ${CONCURRENCY} concurrent connections, custos serve on SQLite (synchronous=FULL, group commit); each round runs Custos, the bare and the durable bare server in turn (who goes first rotates) with the same requests, and the table gives the median of the rounds (ratios: the median of each round's ratio)`,
        `floor: raw node:crypto ES256 sign ${f.signUs.toFixed(1)} µs, verify ${f.verifyUs.toFixed(1)} µs (one core; the fastest of the measurements before and after each case, each the best of five rounds)`,
        '',
        '| grant | grants/s | p50 ms | p99 ms | floor grants/s | ratio to floor | server CPU µs/grant | floor µs/grant | load-generator CPU µs/grant | bare token server grants/s (to floor) | its CPU µs/grant | Custos to it | durable bare server grants/s (to floor) | its CPU µs/grant | Custos to it |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...rows,
        '',
        'spread of the rounds:',
        ...spreads.map((line) => `- ${line}`),
        '',
        'server CPU µs/grant by thread (all rounds):',
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
    rmSync(durableDir, { recursive: true, force: true });
    await server.stop();
  }
}

await main();
