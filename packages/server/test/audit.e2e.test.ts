/**
 * The audit log end to end, on SQLite and PostgreSQL: querying with every
 * filter, checkpoints, retention (prune + archive, the rest still verifies),
 * and the `custos audit` commands (list, tail -f, export in three formats,
 * prune, verify online, offline and on an export) against a real server.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type CheckpointClaim,
  fromAuditView,
  openCheckpoint,
  parseAuditView,
  parseVerifierKey,
  readAllEvents,
  splitNotes,
  verifyChain,
} from '../src/audit/index.js';
import { DIALECTS } from './support/databases.js';
import { auditEvents, type Json } from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('CUSTOS_')) env[key] = value;
  delete env.NODE_TEST_CONTEXT;
  return { ...env, ...extra };
}

function start(t: TestServer, args: readonly string[]): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    env: cleanEnv({ CUSTOS_URL: t.url, CUSTOS_TOKEN: t.adminToken }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function custos(t: TestServer, args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: cleanEnv({ CUSTOS_URL: t.url, CUSTOS_TOKEN: t.adminToken }),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const show = (r: Run) => `code ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** The server's signed checkpoints, opened with the published audit key. */
async function checkpointClaims(t: TestServer): Promise<CheckpointClaim[]> {
  const key = parseVerifierKey(String((await t.api('GET', '/api/v1/audit/key', { token: null })).body.vkey));
  assert.ok(key);
  const served = await t.api('GET', '/api/v1/audit/checkpoints');
  return (served.body.items ?? []).map((c) => {
    const opened = openCheckpoint(String((c as Json).note), key);
    assert.ok(opened, 'a stored checkpoint carries a valid signature');
    return { size: opened.size, hash: opened.hash };
  });
}

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
});

for (const dialect of DIALECTS) {
  describe(`audit log end to end (${dialect})`, { concurrency: 1, timeout: 180_000 }, () => {
    let t: TestServer;
    let auditor: string;
    let owner: string;
    let alice: { id: string; email: string };
    let agentId: string;
    let dir: string;
    let t0: string;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'custos-audit-e2e-'));
      t = await startTestServer(dialect);
      t0 = new Date().toISOString();
      const user = await t.api('POST', '/api/v1/users', {
        body: { email: 'alice@example.com', name: 'Alice' },
      });
      alice = { id: String(user.body.id), email: 'alice@example.com' };
      auditor = String(
        (await t.api('POST', '/api/v1/tokens', { body: { name: 'aud', role: 'auditor' } })).body.token,
      );
      owner = String(
        (await t.api('POST', '/api/v1/tokens', { body: { name: 'own', role: 'owner', user: alice.id } })).body
          .token,
      );
      const agent = await t.api('POST', '/api/v1/agents', {
        body: { name: 'finder', owner: alice.id, purpose: 'finds Needles in haystacks' },
        token: owner,
      });
      agentId = String(agent.body.id);
      await t.api('POST', `/api/v1/agents/${agentId}/suspend`, { body: { reason: 'odd calls to payments' } });
      await t.api('PATCH', `/api/v1/agents/${agentId}`, { body: { allowedScopes: ['read', 'write'] } });
    });
    after(async () => {
      await t.close();
      await rm(dir, { recursive: true, force: true });
    });

    const list = async (query: string, token?: string) => {
      const r = await t.api('GET', `/api/v1/audit/events?${query}`, token ? { token } : {});
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return (r.body.items ?? []).map((e) => e as Json);
    };
    const actions = (events: Json[]) => events.map((e) => e.action);

    it('filters by agent, user (id or email), actor, type, outcome, time and text', async () => {
      assert.deepEqual(actions(await list(`agent=${agentId}`)), [
        'agent.create',
        'agent.suspend',
        'agent.update',
      ]);
      // the owner token acts for Alice; the user filter finds her own changes and those done to her
      const byAlice = actions(await list(`user=${alice.id}`));
      assert.deepEqual(byAlice, ['user.create', 'agent.create']);
      assert.deepEqual(actions(await list(`user=${encodeURIComponent(alice.email)}`)), byAlice);
      assert.deepEqual(actions(await list('action=admin_token.*')), [
        'admin_token.create',
        'admin_token.create',
        'admin_token.create',
      ]);
      assert.deepEqual(actions(await list('q=FINDER')), ['agent.create']);
      assert.deepEqual(actions(await list('q=payments&outcome=success')), ['agent.suspend']);
      assert.deepEqual(await list('outcome=denied'), []);
      assert.deepEqual(
        await list(`from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`),
        [],
      );
      const since = await list(`from=${encodeURIComponent(t0)}&actorType=admin_token`);
      assert.ok(since.length >= 5 && since.every((e) => (e.actor as Json).type === 'admin_token'));
      const bootstrap = await list('actor=custos&action=admin_token.*');
      assert.deepEqual(actions(bootstrap), ['admin_token.create']);
      // the PATCH of token settings is kept, and recorded field by field
      const update = (await list(`agent=${agentId}&action=agent.update`))[0] as Json;
      assert.deepEqual((update.details as Json).changes, {
        allowedScopes: { from: [], to: ['read', 'write'] },
      });
      assert.deepEqual(((await t.api('GET', `/api/v1/agents/${agentId}`)).body as Json).allowedScopes, [
        'read',
        'write',
      ]);
    });

    it('pages newest first and follows the log after a sequence number; the head names the last one', async () => {
      const head = (await t.api('GET', '/api/v1/audit/head', { token: auditor })).body;
      const newest = await list('order=desc&limit=2');
      assert.equal(newest[0]?.seq, head.seq);
      assert.equal((newest[1]?.seq as number) + 1, head.seq);
      assert.deepEqual(await list(`after=${head.seq}`), []);
      assert.deepEqual(
        (await list(`after=${Number(head.seq) - 1}`)).map((e) => e.seq),
        [head.seq],
      );
      assert.equal(head.firstSeq, 1);
    });

    it('refuses bad queries and readers without the right', async () => {
      for (const [query, pointer] of [
        ['from=yesterday', '/from'],
        ['outcome=maybe', '/outcome'],
        ['action=agent.%25', '/action'],
        ['order=sideways', '/order'],
        ['after=-1', '/after'],
        ['colour=red', '/colour'],
        ['user=nobody%40example.com', '/user'],
      ] as const) {
        const r = await t.api('GET', `/api/v1/audit/events?${query}`);
        assert.equal(r.status, 400, query);
        assert.equal(r.body.type, 'urn:custos:problem:validation-failed');
        assert.equal(((r.body.errors as Json[])[0] as Json).pointer, pointer, query);
      }
      for (const path of ['/api/v1/audit/events', '/api/v1/audit/head', '/api/v1/audit/sinks']) {
        assert.equal((await t.api('GET', path, { token: owner })).status, 403, path);
        assert.equal((await t.api('GET', path, { token: auditor })).status, 200, path);
        assert.equal((await t.api('GET', path, { token: null })).status, 401, path);
      }
    });

    it('lists, tails, exports and verifies through the CLI', { timeout: 120_000 }, async () => {
      const listed = await custos(t, ['--json', 'audit', 'list', '--action', 'agent.*', '--agent', agentId]);
      assert.equal(listed.code, 0, show(listed));
      assert.deepEqual(
        (JSON.parse(listed.stdout) as { items: Json[] }).items.map((e) => e.action),
        ['agent.create', 'agent.suspend', 'agent.update'],
      );
      const table = await custos(t, ['audit', 'list', '--outcome', 'success', '-q', 'payments']);
      assert.equal(table.code, 0, show(table));
      assert.match(table.stdout, /^SEQ\s+AT\s+ACTOR\s+ACTION/);
      assert.match(table.stdout, /agent\.suspend/);
      const bad = await custos(t, ['audit', 'list', '--outcome', 'maybe']);
      assert.notEqual(bad.code, 0);

      const tail = await custos(t, ['audit', 'tail', '-n', '2']);
      assert.equal(tail.code, 0, show(tail));
      assert.equal(tail.stdout.trimEnd().split('\n').length, 2);

      // tail -f prints what is appended after it started
      const follower = start(t, ['--json', 'audit', 'tail', '-n', '0', '-f', '--interval', '100']);
      let followed = '';
      follower.stdout?.setEncoding('utf8').on('data', (c: string) => {
        followed += c;
      });
      // the CLI may take seconds to start on a loaded machine: append one event a second until it
      // shows one; it must show only events appended after it started, in order
      const created: string[] = [];
      const deadline = Date.now() + 30_000;
      while (!followed.includes('"team.create"') && Date.now() < deadline) {
        const name = `followed-${created.length + 1}`;
        await t.api('POST', '/api/v1/teams', { body: { name, description: 'x' } });
        created.push(name);
        const waitUntil = Date.now() + 1000;
        while (!followed.includes('"team.create"') && Date.now() < waitUntil)
          await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 300)); // let a line in flight arrive whole
      follower.kill('SIGTERM');
      const seen = followed
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Json)
        .map((e) => [e.action, (e.target as Json).id]);
      assert.ok(seen.length > 0, 'tail -f printed an event appended after it started');
      // a suffix of what was created, in order (the first ones may predate the follower)
      assert.deepEqual(
        seen,
        created.slice(created.length - seen.length).map((name) => ['team.create', name]),
      );

      // exports: JSON lines verify offline; CSV and OCSF carry every event
      const all = await auditEvents(t);
      const jsonl = join(dir, 'events.jsonl');
      const exported = await custos(t, ['audit', 'export', '--format', 'jsonl', '--out', jsonl]);
      assert.equal(exported.code, 0, show(exported));
      assert.equal(exported.stderr, `exported ${all.length} events to ${jsonl}\n`);
      assert.equal((await stat(jsonl)).mode & 0o777, 0o600);
      const vkey = String((await t.api('GET', '/api/v1/audit/key')).body.vkey);
      const notes = join(dir, 'checkpoints.note');
      await writeFile(
        notes,
        ((await t.api('GET', '/api/v1/audit/checkpoints')).body.items ?? [])
          .map((c) => String((c as Json).note))
          .join('\n'),
      );
      const verified = await custos(t, [
        'audit',
        'verify',
        '--events',
        jsonl,
        '--checkpoints',
        notes,
        '--key',
        vkey,
      ]);
      assert.equal(verified.code, 0, show(verified));
      assert.match(verified.stdout, /^audit log verifies/);
      const original = await readFile(jsonl, 'utf8');
      const lines = original.trimEnd().split('\n');
      const victim = JSON.parse(lines[2] as string) as Json;
      lines[2] = JSON.stringify({ ...victim, reason: 'edited later' });
      await writeFile(jsonl, `${lines.join('\n')}\n`);
      const tampered = await custos(t, ['audit', 'verify', '--events', jsonl, '--key', vkey]);
      assert.equal(tampered.code, 1, show(tampered));
      assert.match(tampered.stdout, new RegExp(`does NOT verify: modified at #${victim.seq}`));
      const noKey = await custos(t, ['audit', 'verify', '--events', jsonl]);
      assert.equal(noKey.code, 1);
      assert.match(noKey.stderr, /--events needs --key/);

      const csv = await custos(t, ['audit', 'export', '--format', 'csv', '--action', 'agent.*']);
      assert.equal(csv.code, 0, show(csv));
      const rows = csv.stdout.trimEnd().split('\r\n');
      assert.equal(
        rows[0],
        'seq,id,at,request_id,actor_type,actor_id,action,target_type,target_id,outcome,reason,details,prev_hash,hash',
      );
      assert.equal(rows.length, 4);
      const ocsf = await custos(t, ['audit', 'export', '--format', 'ocsf', '--agent', agentId]);
      assert.equal(ocsf.code, 0, show(ocsf));
      const objects = ocsf.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Json);
      assert.deepEqual(
        objects.map((o) => [o.class_uid, o.activity_id]),
        [
          [6003, 1],
          [6003, 3],
          [6003, 3],
        ],
      );

      const online = await custos(t, ['audit', 'verify']);
      assert.equal(online.code, 0, show(online));
      // offline, straight on the database (a SQLite file or a PostgreSQL URL) and the external file
      const offline = await custos(t, [
        'audit',
        'verify',
        '--database-url',
        t.config.databaseUrl,
        '--checkpoints',
        t.config.auditCheckpointFile,
        '--key',
        vkey,
      ]);
      assert.equal(offline.code, 0, show(offline));
      assert.match(offline.stdout, /^audit log verifies: \d+ chained events/);
    });

    it('prunes whole checkpointed segments into an archive, and the rest still verifies', async () => {
      const now = new Date().toISOString();
      const early = await t.api('POST', '/api/v1/audit/prune', { body: { before: '2020-01-01T00:00:00Z' } });
      assert.equal(early.status, 409, JSON.stringify(early.body));
      assert.match(String(early.body.detail), /no signed checkpoint copied outside the database ends before/);
      for (const [body, status] of [
        [{ before: new Date(Date.now() + 3_600_000).toISOString() }, 400],
        [{ before: 'soon' }, 400],
        [{ before: now, extra: 1 }, 400],
        [{}, 400],
      ] as const) {
        assert.equal(
          (await t.api('POST', '/api/v1/audit/prune', { body })).status,
          status,
          JSON.stringify(body),
        );
      }
      assert.equal(
        (await t.api('POST', '/api/v1/audit/prune', { body: { before: now }, token: auditor })).status,
        403,
      );

      const checkpoint = await t.api('POST', '/api/v1/audit/checkpoints');
      assert.equal(checkpoint.status, 201);
      const size = Number(checkpoint.body.size);
      await t.api('POST', '/api/v1/teams', { body: { name: 'after-checkpoint', description: 'kept' } });

      const pruned = await t.api('POST', '/api/v1/audit/prune', {
        body: { before: new Date().toISOString(), reason: 'retention drill' },
      });
      assert.equal(pruned.status, 200, JSON.stringify(pruned.body));
      assert.deepEqual([pruned.body.from, pruned.body.through, pruned.body.events], [1, size, size]);
      assert.equal(pruned.body.checkpoint, checkpoint.body.note);
      assert.equal((await stat(String(pruned.body.archive))).mode & 0o777, 0o600);

      // the archive holds exactly the pruned events, and verifies on its own with its checkpoints
      const lines = (await readFile(String(pruned.body.archive), 'utf8')).trimEnd().split('\n');
      assert.equal(lines.length, size);
      const archived = lines.map((l) => fromAuditView(parseAuditView(JSON.parse(l)) ?? assert.fail(l)));
      const key = parseVerifierKey(String((await t.api('GET', '/api/v1/audit/key')).body.vkey));
      assert.ok(key);
      const notes = splitNotes(await readFile(String(pruned.body.checkpoints), 'utf8'));
      const claims = notes.map((n) => openCheckpoint(n, key) ?? assert.fail('bad note'));
      assert.equal((await verifyChain(archived, claims, { segment: true })).ok, true);

      // the log now starts after the checkpoint and still verifies, the prune recorded in it
      const report = await verifyChain(readAllEvents(t.server.store), await checkpointClaims(t));
      assert.equal(report.ok, true, JSON.stringify(report));
      assert.equal(report.prunedThrough, size);
      const prune = (await list('action=audit.prune'))[0] as Json;
      assert.equal((prune.details as Json).through, size);
      assert.equal(prune.reason, 'retention drill');
      assert.equal((await t.api('GET', '/api/v1/audit/head')).body.firstSeq, size + 1);

      const again = await custos(t, ['audit', 'prune', '--before', '1m']);
      assert.equal(again.code, 1, show(again));
      assert.match(again.stderr, /^custos: nothing to prune/);
      const online = await custos(t, ['audit', 'verify']);
      assert.equal(online.code, 0, show(online));
      assert.match(online.stdout, /pruned and archived/);
      const head = await custos(t, ['--json', 'audit', 'head']);
      assert.equal(head.code, 0, show(head));
      assert.equal((JSON.parse(head.stdout) as Json).firstSeq, size + 1);
    });

    it('does not prune past what a live sink has forwarded', async () => {
      const first = Number((await t.api('GET', '/api/v1/audit/head')).body.firstSeq);
      await t.server.store.auditLog.ensureSink('lagging', first - 1, Date.now());
      await t.api('POST', '/api/v1/audit/checkpoints');
      const r = await t.api('POST', '/api/v1/audit/prune', { body: { before: new Date().toISOString() } });
      assert.equal(r.status, 409);
      assert.match(String(r.body.detail), /audit sink `lagging` has forwarded events only up to/);
      const sinks = await t.api('GET', '/api/v1/audit/sinks');
      const lagging = (sinks.body.items ?? []).map((s) => s as Json).find((s) => s.name === 'lagging');
      assert.ok(lagging && Number(lagging.lag) > 0);
    });
  });
}
