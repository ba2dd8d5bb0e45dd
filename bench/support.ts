import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { generateAdminToken } from '../packages/server/src/identity/index.js';
import { freePort } from '../packages/server/test/support/server.js';

/** Percentile of sorted numbers (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** The raw node:crypto cost of one ES256 sign and one verify on this core: the token benchmarks' floor. */
export function es256Floor(): { signUs: number; verifyUs: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = randomBytes(300);
  const sig = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  // best of five short rounds: a floor taken while something else ran would flatter the ratio
  const best = (fn: () => void) => Math.min(...Array.from({ length: 5 }, () => microsPerCall(600, fn)));
  return {
    signUs: best(() => sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' })),
    verifyUs: best(() => verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)),
  };
}

/** The faster of two floors, member by member (floors taken before and after a measurement). */
export function fasterFloor(
  a: { signUs: number; verifyUs: number },
  b: { signUs: number; verifyUs: number },
): { signUs: number; verifyUs: number } {
  return { signUs: Math.min(a.signUs, b.signUs), verifyUs: Math.min(a.verifyUs, b.verifyUs) };
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
  /** CPU time the server process has used so far (all threads), in microseconds. */
  cpuMicros(): number;
  /** CPU time used so far by each of the server's threads, in microseconds, keyed `main` or by thread id. */
  threadCpuMicros(): Map<string, number>;
  readonly adminToken: string;
  admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * The server's CPU per unit of work, by thread, between two `threadCpuMicros`
 * readings: the main thread first, then the busiest others (the writer thread,
 * libuv's thread pool, V8's helpers), in µs per unit.
 */
export function threadSplit(before: Map<string, number>, after: Map<string, number>, units: number): string {
  const used = [...after].map(([tid, us]) => [tid, (us - (before.get(tid) ?? 0)) / units] as const);
  const main = used.find(([tid]) => tid === 'main')?.[1] ?? 0;
  const others = used
    .filter(([tid, us]) => tid !== 'main' && us >= 1)
    .map(([, us]) => us)
    .sort((a, b) => b - a);
  return `main ${main.toFixed(0)}; other threads ${others.map((us) => us.toFixed(0)).join(', ') || 'none'}`;
}

/** The machine's CPU time so far from /proc/stat, in clock ticks: busy and total, over all cores. */
export function machineCpu(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** Percent of all cores busy between two `machineCpu` readings. */
export function busyPercent(
  before: { busy: number; total: number },
  after: { busy: number; total: number },
): number {
  return (100 * (after.busy - before.busy)) / Math.max(1, after.total - before.total);
}

/** CPU time a process has used so far (all threads), in microseconds. */
export function processCpuMicros(pid: number): number {
  // /proc/<pid>/stat fields 14 and 15: utime and stime in clock ticks (100 per second)
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
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
      // (BENCH_PROFILE_INTERVAL: its sampling interval in µs, default 1000)
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
      // BENCH_SERVER_FLAGS: Node/V8 flags for the server process only (e.g. GC settings to compare)
      ...(process.env.BENCH_SERVER_FLAGS?.split(' ').filter((f) => f !== '') ?? []),
      ...(process.env.BENCH_PROFILE && process.env.BENCH_PROFILE_INTERVAL
        ? [`--cpu-prof-interval=${process.env.BENCH_PROFILE_INTERVAL}`]
        : []),
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
      // BENCH_STDOUT=<file>: the server's stdout goes there (e.g. with BENCH_SERVER_FLAGS=--trace-gc-nvp)
      stdio: [
        'ignore',
        process.env.BENCH_STDOUT ? openSync(process.env.BENCH_STDOUT, 'w') : 'ignore',
        'pipe',
      ],
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
  const pid = child.pid as number;
  return {
    url,
    adminToken,
    cpuMicros: () => processCpuMicros(pid),
    threadCpuMicros() {
      const out = new Map<string, number>();
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        try {
          const fields =
            readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
          out.set(tid === String(pid) ? 'main' : tid, (Number(fields[11]) + Number(fields[12])) * 10_000);
        } catch {
          // the thread ended
        }
      }
      return out;
    },
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

/**
 * Starts a helper process of a benchmark (an upstream, a floor server) from a
 * TypeScript file beside this one, under tsx; resolves once it prints its
 * first line (it is listening). `stop` kills it.
 */
export async function startHelper(
  file: string,
  args: readonly string[],
): Promise<{ readonly pid: number; stop(): void }> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', new URL(`./${file}`, import.meta.url).pathname, ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
  return { pid: child.pid as number, stop: () => child.kill('SIGKILL') };
}

export interface LoadResult {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
  readonly firstError: string | null;
}

type LoadRequest = { path: string; headers: Record<string, string>; body: string };

/** The requests as bytes on the wire (serialised up front, so sending costs nothing more). */
function serialize(target: URL, requests: ReadonlyArray<LoadRequest>): Buffer[] {
  return requests.map((r) => {
    const body = Buffer.from(r.body);
    const head = [`POST ${r.path} HTTP/1.1`, `host: ${target.host}`, `content-length: ${body.length}`];
    for (const [name, value] of Object.entries(r.headers)) head.push(`${name}: ${value}`);
    return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]) as Buffer;
  });
}

/** A keep-alive socket that reads only each response's status line and Content-Length. */
function loadSocket(
  target: URL,
  onResponse: (status: number, body: Buffer) => void,
  onError: (error: Error) => void,
): import('node:net').Socket {
  const socket = connect(Number(target.port), target.hostname);
  socket.setNoDelay(true);
  let buffer: Buffer = Buffer.alloc(0);
  socket.on('error', onError);
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    for (;;) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffer.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffer.length < end + 4 + length) return;
      const body = buffer.subarray(end + 4, end + 4 + length);
      buffer = buffer.subarray(end + 4 + length);
      onResponse(Number(head.slice(9, 12)), body);
    }
  });
  return socket;
}

/** Counts answers: 200 is a success, anything else a failure (the first one kept for the report). */
function tally() {
  const result = { ok: 0, failed: 0, firstError: null as string | null, latenciesMs: [] as number[] };
  return {
    result,
    record(status: number, body: Buffer, sentAt: bigint) {
      result.latenciesMs.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
      if (status === 200) result.ok++;
      else {
        result.failed++;
        result.firstError ??= `${status} ${body.toString()}`;
      }
    },
  };
}

/**
 * A minimal HTTP/1.1 load generator, closed loop: requests are serialised up
 * front and written to `concurrency` keep-alive sockets, one outstanding
 * request per socket, the next as soon as the answer arrives (the server's
 * throughput). It costs the load-generating process a few microseconds per
 * request, so on a small machine the server, not the client, is measured.
 */
export async function runLoad(
  url: string,
  requests: ReadonlyArray<LoadRequest>,
  concurrency: number,
): Promise<LoadResult> {
  const target = new URL(url);
  const wire = serialize(target, requests);
  const { result, record } = tally();
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from(
      { length: concurrency },
      () =>
        new Promise<void>((resolve, reject) => {
          let sentAt = 0n;
          const sendNext = () => {
            const request = wire[next++];
            if (!request) {
              socket.end();
              resolve();
              return;
            }
            sentAt = process.hrtime.bigint();
            socket.write(request);
          };
          const socket = loadSocket(
            target,
            (status, body) => {
              record(status, body, sentAt);
              sendNext();
            },
            reject,
          );
          socket.on('connect', sendNext);
        }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { ...result, seconds, latenciesMs: result.latenciesMs.sort((a, b) => a - b) };
}

/**
 * An open-loop load generator: request `i` is due at `start + i / perSecond`,
 * whether or not earlier ones have been answered, and goes out on an idle
 * keep-alive socket of a pool of `sockets` opened up front. Latency runs from
 * the moment the request was due, not from when it was written, so time spent
 * waiting for a free socket or behind a late timer counts against the path
 * measured (no coordinated omission). This is "moderate load": the server has
 * idle time between requests, as in production below saturation, unlike the
 * closed loop of {@link runLoad}. `late` counts requests written more than
 * 1 ms after they were due.
 */
export async function runPaced(
  url: string,
  requests: ReadonlyArray<LoadRequest>,
  perSecond: number,
  sockets = 16,
): Promise<LoadResult & { late: number }> {
  if (!(perSecond > 0) || !Number.isFinite(perSecond))
    throw new Error(`a rate must be positive, not ${perSecond}`);
  const target = new URL(url);
  const wire = serialize(target, requests);
  const { result, record } = tally();
  type Slot = { socket: import('node:net').Socket; dueAt: bigint; busy: boolean };
  const slots: Slot[] = [];
  const idle: Slot[] = [];
  let answered = 0;
  let late = 0;
  let failure: Error | null = null;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const fail = (error: Error) => {
    failure ??= error;
    finish();
  };
  await Promise.all(
    Array.from(
      { length: sockets },
      () =>
        new Promise<void>((resolve, reject) => {
          const slot: Slot = { socket: null as unknown as import('node:net').Socket, dueAt: 0n, busy: false };
          slot.socket = loadSocket(
            target,
            (status, body) => {
              record(status, body, slot.dueAt);
              slot.busy = false;
              idle.push(slot);
              if (++answered === wire.length) finish();
            },
            (error) => {
              reject(error);
              fail(error);
            },
          );
          slot.socket.on('close', () => {
            if (slot.busy) fail(new Error('the server closed a connection with a request outstanding'));
          });
          slot.socket.on('connect', () => {
            slots.push(slot);
            idle.push(slot);
            resolve();
          });
        }),
    ),
  );
  const intervalNs = BigInt(Math.round(1e9 / perSecond));
  const start = process.hrtime.bigint();
  let next = 0;
  if (wire.length === 0) finish();
  const send = () => {
    const now = process.hrtime.bigint();
    // every request whose time has come, each on an idle socket (none idle: it waits, and its wait counts)
    while (next < wire.length && start + BigInt(next) * intervalNs <= now && idle.length > 0) {
      const slot = idle.pop() as Slot;
      slot.dueAt = start + BigInt(next) * intervalNs;
      if (now - slot.dueAt > 1_000_000n) late++;
      slot.busy = true;
      slot.socket.write(wire[next++] as Buffer);
    }
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      send();
      if (next >= wire.length || failure) return resolve();
      const due = start + BigInt(next) * intervalNs;
      setTimeout(tick, Math.max(0, Number(due - process.hrtime.bigint()) / 1e6 - 0.5));
    };
    tick();
  });
  await finished;
  for (const slot of slots) slot.socket.destroy();
  if (failure) throw failure;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { ...result, late, seconds, latenciesMs: result.latenciesMs.sort((a, b) => a - b) };
}

/** Registers a bench agent (its owner must exist) and an ES256 key for it: its id, the key's kid and the private key. */
export async function benchAgent(
  server: BenchServer,
  agent: Record<string, unknown>,
): Promise<{ id: string; kid: string; privateKey: CryptoKey }> {
  const created = await server.admin('POST', '/api/v1/agents', { name: 'bench-agent', ...agent });
  const id = String(created.id);
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const key = await server.admin('POST', `/api/v1/agents/${id}/keys`, { jwk: await exportJWK(publicKey) });
  return { id, kid: String(key.kid), privateKey };
}

/** A `private_key_jwt` client assertion of a bench agent for `audience` (the issuer), valid `lifetime` seconds from `now`. */
export function clientAssertion(
  agent: { id: string; kid: string; privateKey: CryptoKey },
  audience: string,
  now: number,
  lifetime: number,
): Promise<string> {
  return new SignJWT({ jti: randomBytes(16).toString('base64url') })
    .setProtectedHeader({ alg: 'ES256', kid: agent.kid })
    .setIssuer(agent.id)
    .setSubject(agent.id)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + lifetime)
    .sign(agent.privateKey);
}
