/**
 * Crash safety of the audit log: `custos serve` (the built binary, SQLite) under
 * concurrent load is killed with SIGKILL at random moments, 50 times, and
 * restarted. After every restart the chain verifies against every signed
 * checkpoint (in the database and in the external checkpoint file), and every
 * request that had been answered with success has its audit event (and its
 * row). A live webhook sink, restarted with the server each time, ends up
 * having received every event, in order, with no gap.
 *
 * Set CRASH_SEED to replay a run; CRASH_CYCLES to change the number of kills.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';
import {
  type CheckpointClaim,
  openCheckpoint,
  parseVerifierKey,
  readAllEvents,
  splitNotes,
  verifierKey,
  verifyChain,
} from '../src/audit/index.js';
import { generateAdminToken } from '../src/identity/index.js';
import { openStore } from '../src/storage/index.js';
import { newKeyPair, postForm, signAssertion, type TestAgent, tokenForm } from './support/oauth-client.js';
import { freePort } from './support/server.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const CYCLES = Number(process.env.CRASH_CYCLES ?? 50);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31);
const WORKERS = 8;
const SINK_SECRET = 'crash-test-sink-secret-0123456789';
const VERBOSE = process.env.CRASH_VERBOSE === '1';
const trace = (message: string) => {
  if (VERBOSE) process.stderr.write(`# ${new Date().toISOString()} ${message}\n`);
};

/** mulberry32: a small seeded generator, so a failing run can be replayed with CRASH_SEED. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Ack =
  | { readonly kind: 'user'; readonly id: string }
  | { readonly kind: 'agent'; readonly id: string }
  | { readonly kind: 'token'; readonly jti: string };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('audit log under SIGKILL', { timeout: 1_200_000 }, () => {
  let dataDir: string;
  let port: number;
  let url: string;
  const adminToken = generateAdminToken();
  let sink: Server;
  const received = new Map<number, number>(); // seq → times received
  let server: ChildProcess | null = null;
  /** Every server this suite started, so none outlives it whatever happens. */
  const children = new Set<ChildProcess>();
  let serverLog = '';

  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
    dataDir = await mkdtemp(join(tmpdir(), 'custos-crash-'));
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    sink = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        for (const e of (JSON.parse(body) as { events: { seq: number }[] }).events)
          received.set(e.seq, (received.get(e.seq) ?? 0) + 1);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await new Promise<void>((resolve) => sink.close(() => resolve()));
    await rm(dataDir, { recursive: true, force: true });
  });

  function launch(): ChildProcess {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CUSTOS_')) env[k] = v;
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(
      process.execPath,
      [CLI, 'serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'],
      {
        env: {
          ...env,
          CUSTOS_BOOTSTRAP_TOKEN: adminToken,
          CUSTOS_AUDIT_CHECKPOINT_EVERY: '40',
          CUSTOS_AUDIT_CHECKPOINT_SECONDS: '1',
          CUSTOS_AUDIT_SINK_WEBHOOK: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/audit`,
          CUSTOS_AUDIT_SINK_SECRET: SINK_SECRET,
          CUSTOS_AUDIT_SINK_INTERVAL_MS: '100',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    child.stderr?.setEncoding('utf8').on('data', (c: string) => {
      serverLog = (serverLog + c).slice(-20_000);
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  }

  async function ready(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(`${url}/readyz`)).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) assert.fail(`custos serve not ready after 60 s\n${serverLog}`);
      await sleep(20);
    }
  }

  async function kill(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  /** The signed checkpoints from the database and from the external file, opened with the stored key. */
  async function verifyNow(acked: readonly Ack[], cycle: number): Promise<number> {
    const store = await openStore(`sqlite:${join(dataDir, 'custos.db')}`);
    try {
      const notes = (await store.auditLog.listCheckpoints()).map((c) => c.note);
      const file = join(dataDir, 'audit-checkpoints.note');
      if (existsSync(file)) notes.push(...splitNotes(await readFile(file, 'utf8')));
      const keyName = notes[0]?.split('\n')[0];
      const stored = keyName ? await store.auditLog.getKey(keyName) : null;
      const claims: CheckpointClaim[] = [];
      if (stored) {
        const key = parseVerifierKey(verifierKey(stored.name, Buffer.from(stored.publicKey, 'base64')));
        assert.ok(key);
        for (const note of notes) {
          const opened = openCheckpoint(note, key);
          assert.ok(opened, `cycle ${cycle}: a checkpoint note does not verify`);
          claims.push({ size: opened.size, hash: opened.hash });
        }
      }
      const report = await verifyChain(readAllEvents(store), claims);
      assert.equal(report.ok, true, `cycle ${cycle} (seed ${SEED}): ${JSON.stringify(report)}`);

      const created = new Set<string>();
      const tokens = new Set<string>();
      for await (const e of readAllEvents(store)) {
        if (e.action === 'token.issue') tokens.add(String(e.details.tokenId));
        else if (e.targetId) created.add(`${e.action}:${e.targetId}`);
      }
      for (const ack of acked) {
        if (ack.kind === 'token') {
          assert.ok(tokens.has(ack.jti), `cycle ${cycle}: token ${ack.jti} was issued without its record`);
        } else {
          assert.ok(
            created.has(`${ack.kind}.create:${ack.id}`),
            `cycle ${cycle}: ${ack.kind} ${ack.id} has no event`,
          );
          const row = ack.kind === 'user' ? await store.users.get(ack.id) : await store.agents.get(ack.id);
          assert.ok(row, `cycle ${cycle}: ${ack.kind} ${ack.id} was answered 201 but is gone`);
        }
      }
      return report.lastSeq;
    } finally {
      await store.close();
    }
  }

  it(`keeps a verifying chain and every acknowledged event across ${CYCLES} SIGKILLs`, async () => {
    const random = seeded(SEED);
    const started = Date.now();
    server = launch();
    await ready();
    const owner = await admin('POST', '/api/v1/users', { email: 'owner@example.com', name: 'Owner' });
    assert.equal(owner.status, 201, JSON.stringify(owner.body));
    const created = await admin('POST', '/api/v1/agents', {
      name: 'crash-bot',
      owner: 'owner@example.com',
      allowedScopes: ['read'],
      allowedAudiences: ['https://api.example.com'],
    });
    const keys = await newKeyPair();
    const added = await admin('POST', `/api/v1/agents/${created.body.id}/keys`, { jwk: keys.publicJwk });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const agent: TestAgent = { id: String(created.body.id), kid: String(added.body.kid), ...keys };

    const acked: Ack[] = [];
    let kills = 0;
    let answered = 0;
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      trace(`cycle ${cycle}: start`);
      if (cycle > 1) {
        server = launch();
        // now and then, die while starting up
        if (random() < 0.1) {
          await sleep(Math.floor(random() * 150));
          await kill(server);
          kills++;
          server = launch();
        }
        await ready();
      }
      let running = true;
      let flowing: () => void = () => undefined;
      const firstSuccess = new Promise<void>((resolve) => {
        flowing = resolve;
      });
      const worker = async (w: number) => {
        let n = 0;
        while (running) {
          n++;
          const tag = `${cycle}-${w}-${n}-${randomBytes(3).toString('hex')}`;
          const op = random();
          try {
            if (op < 0.3) {
              const r = await admin('POST', '/api/v1/users', { email: `u-${tag}@example.com`, name: tag });
              if (r.status === 201) acked.push({ kind: 'user', id: String(r.body.id) });
            } else if (op < 0.5) {
              const r = await admin('POST', '/api/v1/agents', {
                name: `bot-${tag}`,
                owner: 'owner@example.com',
              });
              if (r.status === 201) acked.push({ kind: 'agent', id: String(r.body.id) });
            } else {
              const r = await postForm(
                `${url}/oauth/token`,
                tokenForm(agent.id, await signAssertion(url, agent)),
              );
              if (r.status === 200) {
                const jti = jose.decodeJwt(String(r.body.access_token)).jti;
                acked.push({ kind: 'token', jti: String(jti) });
              }
            }
            answered++;
            flowing();
          } catch {
            // the server died under the request: its outcome is unknown, and not counted
          }
        }
      };
      trace(`cycle ${cycle}: ready`);
      const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
      // the kill lands at a random moment once requests are flowing (a cold start can be slow)
      await Promise.race([firstSuccess, sleep(30_000)]);
      await sleep(Math.floor(random() * 1000));
      await kill(server);
      kills++;
      running = false;
      trace(`cycle ${cycle}: killed`);
      await Promise.all(workers);
      trace(`cycle ${cycle}: workers done (${acked.length} acked)`);
      await verifyNow(acked, cycle);
      trace(`cycle ${cycle}: verified`);
    }

    // one last start: the sink catches up on everything, with no gap, after all those crashes
    server = launch();
    await ready();
    const head = Number((await admin('GET', '/api/v1/audit/head')).body.seq);
    const deadline = Date.now() + 30_000;
    while (received.size < head && Date.now() < deadline) await sleep(100);
    const exited = new Promise((resolve) => server?.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
    server = null;
    const lastSeq = await verifyNow(acked, CYCLES + 1);
    for (let seq = 1; seq <= head; seq++)
      assert.ok(received.has(seq), `the sink never received event ${seq}`);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      `# ${kills} SIGKILLs in ${seconds} s (seed ${SEED}): ${answered} requests answered, ${acked.length} successes, ` +
        `${lastSeq} events, all verified; sink got ${received.size} events (${[...received.values()].filter((n) => n > 1).length} re-sent)\n`,
    );
    assert.ok(kills >= CYCLES);
  });
});
