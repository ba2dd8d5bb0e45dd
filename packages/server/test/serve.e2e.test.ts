/**
 * Process-level tests of `custos serve` and `custos migrate`: the built binary in
 * its own process, as an operator starts it, with its own data directory and port.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type Dialect, type TestDatabase } from './support/databases.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const TEST_TIMEOUT_MS = 120_000;
const TOKEN = /cst_pat_[0-9A-Za-z]{38}/g;

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface Proc {
  readonly child: ChildProcess;
  readonly args: readonly string[];
  stdout: string;
  stderr: string;
  exit: Exit | null;
  readonly exited: Promise<Exit>;
}

const running = new Set<Proc>();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A deadline that does not keep the test process alive once everything else is done. */
const deadline = (ms: number) => new Promise<null>((resolve) => setTimeout(() => resolve(null), ms).unref());

/** The parent's environment without any CUSTOS_* variable (nor the test runner's), plus `extra`. */
function cleanEnv(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('CUSTOS_')) env[key] = value;
  delete env.NODE_TEST_CONTEXT; // the child is a plain CLI run, not a test file
  return { ...env, ...extra };
}

function launch(args: readonly string[], cwd: string, env: Readonly<Record<string, string>> = {}): Proc {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let settle: (exit: Exit) => void = () => {};
  const proc: Proc = {
    child,
    args,
    stdout: '',
    stderr: '',
    exit: null,
    exited: new Promise<Exit>((resolve) => {
      settle = resolve;
    }),
  };
  running.add(proc);
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    proc.stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    proc.stderr += chunk;
  });
  child.on('close', (code, signal) => {
    proc.exit = { code, signal };
    running.delete(proc);
    settle(proc.exit);
  });
  return proc;
}

const show = (proc: Proc) =>
  `custos ${proc.args.join(' ')} (exit ${JSON.stringify(proc.exit)})\nstdout: ${proc.stdout}\nstderr: ${proc.stderr}`;

/** Waits for the process to end, killing it (and failing) if it outlives `timeoutMs`. */
async function finished(proc: Proc, timeoutMs = START_TIMEOUT_MS): Promise<Exit> {
  const exit = await Promise.race([proc.exited, deadline(timeoutMs)]);
  if (exit) return exit;
  proc.child.kill('SIGKILL');
  await proc.exited;
  assert.fail(`did not exit within ${timeoutMs} ms\n${show(proc)}`);
}

/** Runs a short command to completion. */
function run(args: readonly string[], cwd: string, env: Readonly<Record<string, string>> = {}) {
  const proc = launch(args, cwd, env);
  return finished(proc).then((exit) => ({ ...exit, stdout: proc.stdout, stderr: proc.stderr, proc }));
}

/** Waits for the start banner (written in one piece after `listen`) and returns the URL it names. */
async function listening(proc: Proc): Promise<string> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const match = /is listening on (http:\/\/\S+)/.exec(proc.stderr);
    if (match?.[1] && proc.stderr.endsWith('\n\n')) return match[1];
    if (proc.exit) assert.fail(`exited before listening\n${show(proc)}`);
    if (Date.now() > deadline) {
      proc.child.kill('SIGKILL');
      assert.fail(`not listening after ${START_TIMEOUT_MS} ms\n${show(proc)}`);
    }
    await sleep(25);
  }
}

/** SIGTERM, then the exit (bounded). */
async function terminate(proc: Proc): Promise<Exit> {
  proc.child.kill('SIGTERM');
  return finished(proc, STOP_TIMEOUT_MS);
}

/** A loopback port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  return address.port;
}

async function get(
  url: string,
  token?: string,
): Promise<{ status: number; headers: Headers; text: string; body: unknown }> {
  const response = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(5_000),
  });
  const text = await response.text();
  let body: unknown = null;
  if (/json/.test(response.headers.get('content-type') ?? '')) body = JSON.parse(text);
  return { status: response.status, headers: response.headers, text, body };
}

function record(value: unknown, what = 'value'): Record<string, unknown> {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `${what} is not an object`);
  return value as Record<string, unknown>;
}

/** How many migrations this build ships for a dialect (the version a migrated database reaches). */
function shippedMigrations(dialect: Dialect): number {
  const dir = fileURLToPath(new URL(`../migrations/${dialect}/`, import.meta.url));
  return readdirSync(dir).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).length;
}

/** The JSON log lines on stdout; fails on any line that is not JSON. */
function logLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      let parsed: unknown;
      assert.doesNotThrow(() => {
        parsed = JSON.parse(line);
      }, `log line is not JSON: ${line}`);
      return record(parsed, 'log line');
    });
}

const uniqueTokens = (text: string) => [...new Set(text.match(TOKEN) ?? [])];

async function expectReady(url: string, dialect: Dialect): Promise<void> {
  const ready = await get(`${url}/readyz`);
  assert.equal(ready.status, 200, ready.text);
  const body = record(ready.body, '/readyz body');
  assert.equal(body.status, 'ready');
  const migrations = record(body.migrations, 'migrations');
  assert.equal(migrations.latest, shippedMigrations(dialect));
  assert.equal(migrations.applied, migrations.latest);
}

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
});

/** Kills whatever a failed test left running (bounded), so no server outlives its test. */
async function killAll(): Promise<void> {
  for (const proc of running) proc.child.kill('SIGKILL');
  await Promise.all([...running].map((proc) => Promise.race([proc.exited, deadline(STOP_TIMEOUT_MS)])));
}

after(killAll);

describe('custos serve (SQLite data dir)', () => {
  let base: string;
  let dataDir: string;
  let firstToken = '';
  let firstKey = '';

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'custos-serve-'));
    dataDir = join(base, 'data');
  });
  after(async () => {
    await killAll();
    await rm(base, { recursive: true, force: true });
  });

  it('first start generates an admin token, shows it once on stderr, and serves', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const port = await freePort();
    const proc = launch(['serve', '--data-dir', dataDir, '--port', String(port)], base);
    const url = await listening(proc);
    assert.equal(url, `http://127.0.0.1:${port}`);

    const tokens = uniqueTokens(proc.stderr);
    assert.equal(tokens.length, 1, proc.stderr);
    firstToken = tokens[0] ?? '';
    assert.match(proc.stderr, /First start: an admin token was generated/);
    assert.ok(proc.stderr.includes(`export CUSTOS_TOKEN=${firstToken}`), proc.stderr);
    assert.ok(proc.stderr.includes(`console     ${url}/console/`), proc.stderr);
    assert.ok(proc.stderr.includes(`admin API   ${url}/api/v1`), proc.stderr);

    const agents = await get(`${url}/api/v1/agents`, firstToken);
    assert.equal(agents.status, 200, agents.text);
    assert.deepEqual(agents.body, { items: [], nextCursor: null });
    const anonymous = await get(`${url}/api/v1/agents`);
    assert.equal(anonymous.status, 401);
    const wrong = await get(`${url}/api/v1/agents`, `cst_pat_${'A'.repeat(38)}`);
    assert.equal(wrong.status, 401);

    const health = await get(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok' });
    await expectReady(url, 'sqlite');
    const metrics = await get(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    const agentLines = metrics.text
      .split('\n')
      .filter((l) => l.startsWith('custos_http_requests_total{') && l.includes('route="/api/v1/agents"'));
    assert.ok(
      agentLines.some((l) => l.includes('status="200"')) &&
        agentLines.some((l) => l.includes('status="401"')),
      metrics.text,
    );

    const keyFile = join(dataDir, 'master.key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    firstKey = readFileSync(keyFile, 'utf8');
    assert.equal(Buffer.from(firstKey.trim(), 'base64').length, 32);

    const exit = await terminate(proc);
    assert.deepEqual(exit, { code: 0, signal: null }, show(proc));

    // logs: JSON lines on stdout, never the token
    const logs = logLines(proc.stdout);
    assert.ok(
      logs.some((l) => l.msg === 'generated a new master key file (mode 0600)'),
      proc.stdout,
    );
    assert.ok(
      logs.some((l) => /shutting down/.test(String(l.msg))),
      proc.stdout,
    );
    assert.ok(!proc.stdout.includes(firstToken), 'the admin token must not appear in the logs');
  });

  it('a second start on the same data dir prints no token and keeps the first one valid', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    assert.ok(firstToken, 'needs the first start');
    const port = await freePort();
    const proc = launch(['serve', '--data-dir', dataDir, '--port', String(port)], base);
    const url = await listening(proc);
    assert.deepEqual(uniqueTokens(proc.stderr), [], proc.stderr);
    assert.match(proc.stderr, /Authenticate with an admin token/);
    const agents = await get(`${url}/api/v1/agents`, firstToken);
    assert.equal(agents.status, 200, agents.text);
    assert.equal(readFileSync(join(dataDir, 'master.key'), 'utf8'), firstKey, 'the key file is reused');
    assert.deepEqual(await terminate(proc), { code: 0, signal: null }, show(proc));
  });

  it('registers CUSTOS_BOOTSTRAP_TOKEN as the first admin token', { timeout: TEST_TIMEOUT_MS }, async () => {
    const generated = await run(['token', 'generate'], base);
    assert.equal(generated.code, 0, generated.stderr);
    const token = generated.stdout.trim();
    assert.match(token, /^cst_pat_[0-9A-Za-z]{38}$/);

    const port = await freePort();
    const proc = launch(['serve', '--data-dir', join(base, 'bootstrap'), '--port', String(port)], base, {
      CUSTOS_BOOTSTRAP_TOKEN: token,
    });
    const url = await listening(proc);
    assert.match(proc.stderr, /CUSTOS_BOOTSTRAP_TOKEN was registered as an admin token/);
    assert.deepEqual(uniqueTokens(proc.stderr), [], 'a token the operator chose is not echoed');

    const tokens = await get(`${url}/api/v1/tokens`, token);
    assert.equal(tokens.status, 200, tokens.text);
    const items = record(tokens.body).items;
    assert.ok(Array.isArray(items));
    assert.equal(items.length, 1);
    const only = record(items[0]);
    assert.equal(only.name, 'bootstrap');
    assert.equal(only.role, 'admin');
    assert.equal(
      (await get(`${url}/api/v1/agents`, firstToken)).status,
      401,
      'another data dir, another token',
    );
    assert.deepEqual(await terminate(proc), { code: 0, signal: null }, show(proc));
    assert.ok(!proc.stdout.includes(token), 'the bootstrap token must not appear in the logs');
  });

  it('refuses a master key file that group or others can read', { timeout: TEST_TIMEOUT_MS }, async () => {
    const dir = join(base, 'loose');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const keyFile = join(dir, 'master.key');
    await writeFile(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o644 });
    await chmod(keyFile, 0o644); // whatever the umask
    const port = await freePort();
    const result = await run(['serve', '--data-dir', dir, '--port', String(port)], base);
    assert.equal(result.code, 2, show(result.proc));
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      `custos: invalid config: master key file \`${keyFile}\` is readable by group or others (mode 644): run \`chmod 600 ${keyFile}\`\n`,
    );
    assert.equal(statSync(keyFile).mode & 0o777, 0o644, 'the file is left for the operator to fix');
  });

  it('--port 70000 exits 2 with one line naming the key', { timeout: TEST_TIMEOUT_MS }, async () => {
    const result = await run(['serve', '--data-dir', join(base, 'unused'), '--port', '70000'], base);
    assert.equal(result.code, 2, show(result.proc));
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, 'custos: invalid config: `port` must be an integer between 1 and 65535\n');
    assert.ok(!existsSync(join(base, 'unused')), 'nothing is created when the config is invalid');
  });

  it('migrate applies the shipped migrations once, then reports the database current', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const n = shippedMigrations('sqlite');
    assert.ok(n >= 1);
    const dbFile = join(base, 'x.db');
    const first = await run(['migrate', '--database-url', `sqlite:${dbFile}`], base);
    assert.equal(first.code, 0, show(first.proc));
    assert.equal(first.stdout, `migrated from version 0 to ${n}\n`);
    assert.ok(existsSync(dbFile));
    const second = await run(['migrate', '--database-url', `sqlite:${dbFile}`], base);
    assert.equal(second.code, 0, show(second.proc));
    assert.equal(second.stdout, `database is current (version ${n})\n`);
  });
});

describe('custos serve (PostgreSQL)', () => {
  let base: string;
  let db: TestDatabase;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'custos-serve-pg-'));
    db = await createTestDatabase('postgres');
  });
  after(async () => {
    await killAll();
    await db?.drop();
    await rm(base, { recursive: true, force: true });
  });

  it('migrates, becomes ready and serves with a generated token', { timeout: TEST_TIMEOUT_MS }, async () => {
    const port = await freePort();
    const proc = launch(
      ['serve', '--database-url', db.url, '--data-dir', join(base, 'data'), '--port', String(port)],
      base,
    );
    const url = await listening(proc);
    await expectReady(url, 'postgres');

    // the banner names the database without its credentials
    const dbLine = proc.stderr.split('\n').find((l) => l.trim().startsWith('database'));
    assert.ok(dbLine, proc.stderr);
    const shown = new URL(db.url);
    shown.username = '***';
    assert.equal(dbLine.trim(), `database    ${shown.toString()}`);

    const [token] = uniqueTokens(proc.stderr);
    assert.ok(token, proc.stderr);
    const agents = await get(`${url}/api/v1/agents`, token);
    assert.equal(agents.status, 200, agents.text);
    assert.deepEqual(agents.body, { items: [], nextCursor: null });

    assert.deepEqual(await terminate(proc), { code: 0, signal: null }, show(proc));
    // a local key file with a shared database is legal but unsafe: a loud warning
    const warnings = logLines(proc.stdout).filter((l) => l.insecure === true && l.level === 40);
    assert.ok(
      warnings.some((l) => /CUSTOS_MASTER_KEY/.test(String(l.msg))),
      proc.stdout,
    );
  });
});
