import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAdminToken } from '../packages/server/src/identity/index.js';
import { freePort } from '../packages/server/test/support/server.js';

/** Percentile of sorted numbers (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Runs `fn` `n` times and returns microseconds per call (after a warm-up). */
export function microsPerCall(n: number, fn: () => void): number {
  for (let i = 0; i < Math.min(200, n); i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - start) / 1000 / n;
}

export interface BenchServer {
  readonly url: string;
  readonly adminToken: string;
  admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Starts `custos serve` as a separate process (its own core), on a fresh SQLite data dir. */
export async function startBenchServer(env: Record<string, string> = {}): Promise<BenchServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'custos-bench-'));
  const port = await freePort();
  const adminToken = generateAdminToken();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      // BENCH_PROFILE=<dir> writes a CPU profile of the server there
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
      new URL('../packages/server/bin/custos.js', import.meta.url).pathname,
      'serve',
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
    ],
    {
      env: { ...process.env, CUSTOS_BOOTSTRAP_TOKEN: adminToken, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`custos serve exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('custos serve did not become ready in 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    adminToken,
    async admin(method, path, body) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${adminToken}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const json = (await res.json()) as Record<string, unknown>;
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface LoadResult {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
  readonly firstError: string | null;
}

/**
 * Sends the prepared requests with `concurrency` keep-alive connections and
 * measures each one. `prepare(i)` builds request i; preparation is not timed.
 */
export async function runLoad(
  url: string,
  requests: ReadonlyArray<{ path: string; headers: Record<string, string>; body: string }>,
  concurrency: number,
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let firstError: string | null = null;
  let next = 0;
  const send = (r: (typeof requests)[number]) =>
    new Promise<void>((resolve) => {
      const started = process.hrtime.bigint();
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          path: r.path,
          method: 'POST',
          agent,
          headers: { ...r.headers, 'content-length': Buffer.byteLength(r.body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
            if (res.statusCode === 200) ok++;
            else {
              failed++;
              firstError ??= `${res.statusCode} ${Buffer.concat(chunks).toString()}`;
            }
            resolve();
          });
        },
      );
      req.on('error', (error) => {
        failed++;
        firstError ??= error.message;
        resolve();
      });
      req.end(r.body);
    });
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) {
        const r = requests[next++];
        if (r) await send(r);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  return { ok, failed, seconds, latenciesMs: latencies.sort((a, b) => a - b), firstError };
}
