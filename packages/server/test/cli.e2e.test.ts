/**
 * End-to-end tests of the `custos` binary as users run it: the built CLI in its
 * own process, talking to a real server (SQLite and PostgreSQL) over loopback.
 * Every assertion is on what a person or a script sees: exit code, stdout, stderr.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseCredential } from '@custos/sdk';
import { DIALECTS } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const RUN_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 180_000;
const DAY_MS = 86_400_000;

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly args: readonly string[];
}

type Env = Readonly<Record<string, string | undefined>>;

/** The parent's environment without any CUSTOS_* variable (nor the test runner's): only what a test passes counts. */
function cleanEnv(extra: Env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('CUSTOS_')) env[key] = value;
  delete env.NODE_TEST_CONTEXT; // the child is a plain CLI run, not a test file
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) env[key] = value;
  return env;
}

/** Runs the built CLI to completion; a hung process is killed after {@link RUN_TIMEOUT_MS}. */
function custos(args: readonly string[], env: Env = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: RUN_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, args }));
  });
}

const describeRun = (run: Run) =>
  `custos ${run.args.join(' ')} → code ${run.code} signal ${run.signal}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;

/** Asserts success and returns stdout. */
function ok(run: Run): string {
  assert.equal(run.code, 0, describeRun(run));
  assert.equal(run.stderr, '', describeRun(run));
  return run.stdout;
}

/** Asserts the CLI's failure contract: non-zero exit, nothing on stdout, exactly one `custos: …` line on stderr. */
function failed(run: Run, pattern: RegExp): string {
  assert.equal(run.signal, null, describeRun(run));
  assert.notEqual(run.code, 0, describeRun(run));
  assert.notEqual(run.code, null, describeRun(run));
  assert.equal(run.stdout, '', describeRun(run));
  assert.match(run.stderr, /^custos: [^\n]+\n$/, `expected one line on stderr\n${describeRun(run)}`);
  assert.match(run.stderr, pattern, describeRun(run));
  return run.stderr.trimEnd();
}

function record(value: unknown, what = 'value'): Record<string, unknown> {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `${what} is not an object`);
  return value as Record<string, unknown>;
}

function json(run: Run): Record<string, unknown> {
  const parsed: unknown = JSON.parse(ok(run));
  return record(parsed, `stdout of custos ${run.args.join(' ')}`);
}

function page(run: Run): { items: Record<string, unknown>[]; nextCursor: unknown } {
  const body = json(run);
  assert.ok(Array.isArray(body.items), `no items in ${JSON.stringify(body)}`);
  return { items: body.items.map((item: unknown) => record(item, 'item')), nextCursor: body.nextCursor };
}

const ids = (items: readonly Record<string, unknown>[]) => items.map((i) => String(i.id)).sort();

/** Parses the `key: value` block the CLI prints for one resource. */
function fields(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.trimEnd().split('\n')) {
    const match = /^([A-Za-z]+):\s+(.*)$/.exec(line) ?? /^([A-Za-z]+):$/.exec(line);
    assert.ok(match?.[1], `not a \`key: value\` line: ${JSON.stringify(line)}`);
    out[match[1]] = match[2] ?? '';
  }
  return out;
}

/** The lines of a table, the header first. */
function tableLines(stdout: string): string[] {
  return stdout.trimEnd().split('\n');
}

/** A loopback port nothing listens on (reserved, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  return address.port;
}

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
});

// The suites share nothing (each dialect has its own server), so they run side by side;
// the steps inside one suite build on each other and run in order.
describe('custos CLI', { concurrency: true }, () => {
  describe('custos CLI without a server', { concurrency: 1 }, () => {
    it('token generate prints a fresh cst_pat_ token with a valid checksum, offline', async () => {
      const [a, b] = await Promise.all([custos(['token', 'generate']), custos(['token', 'generate'])]);
      const tokens = [ok(a), ok(b)].map((s) => {
        assert.ok(s.endsWith('\n'), JSON.stringify(s));
        return s.trimEnd();
      });
      for (const token of tokens) {
        assert.match(token, /^cst_pat_[0-9A-Za-z]{38}$/);
        assert.deepEqual(parseCredential(token), { ok: true, kind: 'pat' });
      }
      assert.notEqual(tokens[0], tokens[1]);
    });

    it('refuses to call the API without a token, in one line', async () => {
      const port = await closedPort();
      const run = await custos(['agent', 'list'], { CUSTOS_URL: `http://127.0.0.1:${port}` });
      failed(run, /^custos: no admin token: pass --token or set CUSTOS_TOKEN$/m);
    });

    it('reports an unreachable server in one line', async () => {
      const port = await closedPort();
      const url = `http://127.0.0.1:${port}`;
      const [fromEnv, fromFlag] = await Promise.all([
        custos(['agent', 'list'], { CUSTOS_URL: url, CUSTOS_TOKEN: 'cst_pat_x' }),
        custos(['--url', url, '--token', 'cst_pat_x', 'user', 'list', '--json']),
      ]);
      for (const run of [fromEnv, fromFlag]) {
        const line = failed(run, /^custos: cannot reach Custos at /);
        assert.ok(line.includes(url), line);
        assert.match(line, /ECONNREFUSED/);
      }
    });
  });

  for (const dialect of DIALECTS) {
    describe(`custos CLI against a server (${dialect})`, { concurrency: 1, timeout: 900_000 }, () => {
      let t: TestServer;
      let env: Env;
      const cli = (...args: string[]) => custos(args, env);
      const user: Record<string, string> = {};
      const agent: Record<string, string> = {};

      before(async () => {
        t = await startTestServer(dialect);
        env = { CUSTOS_URL: t.url, CUSTOS_TOKEN: t.adminToken };
      });
      after(() => t?.close());

      it('creates, lists, reads, updates and deactivates users', { timeout: TEST_TIMEOUT_MS }, async () => {
        const [alice, carol] = await Promise.all([
          cli('user', 'create', '--email', 'alice@example.com', '--name', 'Alice Liddell', '--json').then(
            json,
          ),
          cli('user', 'create', '--email', 'carol@example.com', '--name', 'Carol', '--json').then(json),
        ]);
        assert.match(String(alice.id), /^usr_[0-9a-z]{26}$/);
        assert.equal(alice.email, 'alice@example.com');
        assert.equal(alice.name, 'Alice Liddell');
        assert.equal(alice.status, 'active');
        assert.equal(alice.managerId, null);
        user.alice = String(alice.id);
        user.carol = String(carol.id);

        // table (key: value) output for people
        const bob = fields(
          ok(
            await cli(
              'user',
              'create',
              '--email',
              'bob@example.com',
              '--name',
              'Bob',
              '--manager',
              'alice@example.com',
            ),
          ),
        );
        assert.match(bob.id ?? '', /^usr_[0-9a-z]{26}$/);
        assert.equal(bob.email, 'bob@example.com');
        assert.equal(bob.managerId, user.alice);
        assert.equal(bob.status, 'active');
        user.bob = bob.id ?? '';

        const [listed, gotBob] = await Promise.all([
          cli('user', 'list'),
          cli('user', 'get', 'bob@example.com', '--json'),
        ]);
        const table = tableLines(ok(listed));
        assert.match(table[0] ?? '', /^ID\s+EMAIL\s+NAME\s+STATUS$/);
        assert.equal(table.length, 4, table.join('\n'));
        assert.ok(
          table.some((l) => l.startsWith(user.bob ?? '?') && /bob@example\.com\s+Bob\s+active$/.test(l)),
          table.join('\n'),
        );
        assert.ok(table.some((l) => l.includes('Alice Liddell')));

        const got = json(gotBob);
        assert.equal(got.id, user.bob);
        assert.equal(got.managerId, user.alice);

        const updated = json(
          await cli('user', 'update', user.bob ?? '', '--name', 'Robert', '--no-manager', '--json'),
        );
        assert.equal(updated.name, 'Robert');
        assert.equal(updated.managerId, null);
        const stored = await t.api('GET', `/api/v1/users/${user.bob}`);
        assert.equal(stored.body.name, 'Robert');
        assert.equal(stored.body.managerId, null);

        const deactivated = json(
          await cli('user', 'deactivate', 'bob@example.com', '--reason', 'left the company', '--json'),
        );
        assert.equal(deactivated.status, 'deactivated');
        const inactive = page(await cli('user', 'list', '--status', 'deactivated', '--json'));
        assert.deepEqual(ids(inactive.items), [user.bob]);
        assert.equal(inactive.nextCursor, null);
      });

      it('creates and lists teams', { timeout: TEST_TIMEOUT_MS }, async () => {
        const created = fields(ok(await cli('team', 'create', 'payments', '--description', 'Payments team')));
        assert.equal(created.name, 'payments');
        assert.equal(created.description, 'Payments team');
        // (the JSON form of `team list` is checked with the flags-only run in the token test)
        const lines = tableLines(ok(await cli('team', 'list')));
        assert.equal(lines.length, 2, lines.join('\n'));
        assert.match(lines[0] ?? '', /^NAME\s+DESCRIPTION\s+CREATEDAT$/);
        assert.match(lines[1] ?? '', /^payments\s+Payments team\s+\d{4}-\d{2}-\d{2}T/);
      });

      it('registers agents with tags, team, risk and expiry', { timeout: TEST_TIMEOUT_MS }, async () => {
        const startedAt = Date.now();
        const [invoice, search, report] = await Promise.all([
          cli(
            'agent',
            'create',
            'invoice-bot',
            '--owner',
            'alice@example.com',
            '--team',
            'payments',
            '--tag',
            'env=prod',
            '--tag',
            'tier=1',
            '--risk',
            'high',
            '--expires',
            '30d',
            '--purpose',
            'pays supplier invoices',
            '--json',
          ).then(json),
          cli(
            'agent',
            'create',
            'search-bot',
            '--owner',
            user.carol ?? '',
            '--environment',
            'staging',
            '--tag',
            'env=dev',
            '--json',
          ).then(json),
          cli('agent', 'create', 'report-bot', '--owner', 'alice@example.com', '--tag', 'env=prod').then(ok),
        ]);
        assert.match(String(invoice.id), /^agt_[0-9a-z]{26}$/);
        assert.equal(invoice.name, 'invoice-bot');
        assert.deepEqual(invoice.owner, { id: user.alice, email: 'alice@example.com' });
        assert.equal(invoice.team, 'payments');
        assert.deepEqual(invoice.tags, { env: 'prod', tier: '1' });
        assert.equal(invoice.riskLevel, 'high');
        assert.equal(invoice.status, 'active');
        assert.equal(invoice.purpose, 'pays supplier invoices');
        const expiresAt = Date.parse(String(invoice.expiresAt));
        assert.ok(
          expiresAt >= startedAt + 30 * DAY_MS && expiresAt <= Date.now() + 30 * DAY_MS,
          `expiresAt ${String(invoice.expiresAt)} is not 30 days from now`,
        );
        assert.equal(search.environment, 'staging');
        assert.deepEqual(search.owner, { id: user.carol, email: 'carol@example.com' });
        assert.equal(search.team, null);
        const reportFields = fields(report);
        assert.equal(reportFields.name, 'report-bot');
        assert.equal(reportFields.tags, '{"env":"prod"}');
        assert.equal(reportFields.status, 'active');
        agent.invoice = String(invoice.id);
        agent.search = String(search.id);
        agent.report = reportFields.id ?? '';

        const refused = await cli('agent', 'create', 'ghost-bot', '--owner', 'nobody@example.com');
        failed(refused, /nobody@example\.com/);
      });

      it('searches the inventory with filters, as tables and as JSON', {
        timeout: TEST_TIMEOUT_MS,
      }, async () => {
        const [byOwner, byTags, byQuery, byStatus, byUnknownOwner, table] = await Promise.all([
          cli('agent', 'list', '--owner', 'alice@example.com', '--json').then(page),
          cli('agent', 'list', '--tag', 'env=prod', '--tag', 'tier=1', '--json').then(page),
          cli('agent', 'list', '-q', 'SEARCH', '--json').then(page),
          cli('agent', 'list', '--status', 'active', '--owner', user.carol ?? '', '--json').then(page),
          cli('agent', 'list', '--owner', 'nobody@example.com').then(ok),
          cli('agent', 'list', '-q', 'invoice').then(ok),
        ]);
        assert.deepEqual(ids(byOwner.items), [agent.invoice, agent.report].sort());
        assert.deepEqual(ids(byTags.items), [agent.invoice]);
        assert.deepEqual(ids(byQuery.items), [agent.search]);
        assert.deepEqual(ids(byStatus.items), [agent.search]);
        assert.equal(byOwner.nextCursor, null);
        assert.equal(byUnknownOwner, '(none)\n');

        const lines = tableLines(table);
        assert.match(lines[0] ?? '', /^ID\s+NAME\s+OWNER\s+TEAM\s+ENVIRONMENT\s+STATUS\s+RISK\s+EXPIRES$/);
        assert.equal(lines.length, 2, table);
        const row = (lines[1] ?? '').split(/\s+/);
        assert.deepEqual(row.slice(0, 7), [
          agent.invoice,
          'invoice-bot',
          'alice@example.com',
          'payments',
          'default',
          'active',
          'high',
        ]);
        assert.match(row[7] ?? '', /^\d{4}-\d{2}-\d{2}$/);
      });

      it('reads, updates, suspends, resumes and decommissions an agent', {
        timeout: TEST_TIMEOUT_MS,
      }, async () => {
        const id = agent.invoice ?? '';
        const shown = fields(ok(await cli('agent', 'get', id)));
        assert.equal(shown.id, id);
        assert.equal(shown.name, 'invoice-bot');
        assert.equal(shown.status, 'active');
        assert.equal(shown.tags, '{"env":"prod","tier":"1"}');

        const updated = json(
          await cli('agent', 'update', id, '--name', 'invoice-bot-2', '--risk', 'critical', '--json'),
        );
        assert.equal(updated.name, 'invoice-bot-2');
        assert.equal(updated.riskLevel, 'critical');
        assert.equal(updated.team, 'payments', 'fields not passed are kept');

        const suspended = json(await cli('agent', 'suspend', id, '--reason', 'incident 42', '--json'));
        assert.equal(suspended.status, 'suspended');
        assert.equal(suspended.statusReason, 'incident 42');
        assert.deepEqual(ids(page(await cli('agent', 'list', '--status', 'suspended', '--json')).items), [
          id,
        ]);

        const resumed = json(await cli('agent', 'resume', id, '--reason', 'cleared', '--json'));
        assert.equal(resumed.status, 'active');
        const gone = fields(ok(await cli('agent', 'decommission', id, '--reason', 'retired')));
        assert.equal(gone.status, 'decommissioned');
        assert.equal(gone.statusReason, 'retired');

        const refused = await cli('agent', 'resume', id, '--reason', 'try again');
        failed(refused, new RegExp(`cannot resume agent \`${id}\`: it is decommissioned \\(HTTP 409\\)`));
        const stored = await t.api('GET', `/api/v1/agents/${id}`);
        assert.equal(stored.body.status, 'decommissioned');
      });

      it('pages with --limit and --cursor', { timeout: TEST_TIMEOUT_MS }, async () => {
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let pageNo = 0; pageNo < 3; pageNo++) {
          const args = ['agent', 'list', '--limit', '1', ...(cursor ? ['--cursor', cursor] : [])];
          const lines = tableLines(ok(await cli(...args)));
          assert.match(lines[0] ?? '', /^ID\s+NAME/);
          const rowId = (lines[1] ?? '').split(/\s+/)[0] ?? '';
          assert.match(rowId, /^agt_/);
          seen.push(rowId);
          const hint = /^\(more: --cursor (\S+)\)$/.exec(lines[2] ?? '');
          if (pageNo < 2) {
            assert.equal(lines.length, 3, lines.join('\n'));
            assert.ok(hint?.[1], `no cursor hint in\n${lines.join('\n')}`);
            cursor = hint[1];
          } else {
            assert.equal(lines.length, 2, `the last page has no hint\n${lines.join('\n')}`);
          }
        }
        assert.deepEqual([...seen].sort(), [agent.invoice, agent.report, agent.search].sort());
      });

      it('issues, lists and revokes admin tokens; a revoked token is refused', {
        timeout: TEST_TIMEOUT_MS,
      }, async () => {
        const created = json(
          await cli('token', 'create', '--name', 'ci-bot', '--role', 'admin', '--expires', '7d', '--json'),
        );
        const tokenId = String(created.id);
        const token = String(created.token);
        assert.match(tokenId, /^tok_[0-9a-z]{26}$/);
        assert.match(token, /^cst_pat_[0-9A-Za-z]{38}$/);
        assert.equal(created.role, 'admin');
        assert.equal(created.revokedAt, null);

        // the new token works, given by flags only (no CUSTOS_URL / CUSTOS_TOKEN in the environment)
        const [viaFlags, tokenList] = await Promise.all([
          custos(['--url', t.url, '--token', token, 'team', 'list', '--json']),
          cli('token', 'list'),
        ]);
        assert.deepEqual(
          page(viaFlags).items.map((i) => i.name),
          ['payments'],
        );

        const lines = tableLines(ok(tokenList));
        assert.match(lines[0] ?? '', /^ID\s+NAME\s+ROLE\s+USERID\s+EXPIRESAT\s+REVOKEDAT$/);
        const row = lines.find((l) => l.startsWith(tokenId));
        assert.ok(row, lines.join('\n'));
        assert.match(row, /\sci-bot\s+admin\s+-\s+\S+\s+-$/);
        assert.ok(!lines.join('\n').includes(token), 'token list never shows token values');

        const revoked = json(await cli('token', 'revoke', tokenId, '--json'));
        assert.equal(revoked.id, tokenId);
        assert.match(String(revoked.revokedAt), /^\d{4}-\d{2}-\d{2}T/);

        const [refused, again] = await Promise.all([
          custos(['agent', 'list'], { CUSTOS_URL: t.url, CUSTOS_TOKEN: token }),
          cli('token', 'revoke', tokenId),
        ]);
        failed(refused, /^custos: admin token has been revoked \(HTTP 401\)$/m);
        failed(again, /already revoked \(HTTP 409\)/);
      });
    });
  }
});
