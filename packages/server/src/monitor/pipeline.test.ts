import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, type JWK, jwtVerify } from 'jose';
import { pino } from 'pino';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../test/support/databases.js';
import { type Actor, auditStatement, SYSTEM_ACTOR } from '../audit/index.js';
import { manualClock } from '../core/index.js';
import { createAgent, createUser, revokeAgentKey, transitionAgent } from '../identity/index.js';
import { masterKeyFrom } from '../secrets/index.js';
import { openStore, type Statement, type Store } from '../storage/index.js';
import { Deliverer } from './deliverer.js';
import { MonitorPipeline, type PipelineOptions } from './pipeline.js';
import { CAEP_CREDENTIAL_CHANGE, CAEP_SESSION_REVOKED, SetSigner } from './set-emitter.js';
import { DEFAULT_SETTINGS } from './settings.js';
import { webhookDelivery } from './webhook-sink.js';

const T0 = Date.UTC(2026, 2, 2, 9);
const MINUTE = 60_000;
const SECRET = 'whsec-0123456789abcdef';
const logger = pino({ level: 'silent' });
/** The pipeline's engine (a function, so assertions on it do not narrow later reads). */
const engineOf = (p: MonitorPipeline) => p.detectors;
const RS: Actor = {
  type: 'admin_token',
  id: 'tok_rs',
  role: 'resource_server',
  userId: null,
  requestId: null,
};

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A receiver answering with `statuses` in turn (then 200), recording what it got. */
async function receiver(
  statuses: number[] = [],
): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = statuses.shift() ?? 200;
      res.end(res.statusCode === 400 ? '{"err":"invalid_request","description":"no"}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Verifies `x-custos-signature: t=…,v1=…` over `<t>.<body>`. */
function validSignature(r: Received): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(r.headers['x-custos-signature']));
  if (!match) return false;
  const mac = createHmac('sha256', SECRET).update(`${match[1]}.${r.body}`).digest('hex');
  return mac === match[2];
}

for (const dialect of DIALECTS) {
  describe(`monitor pipeline (${dialect})`, () => {
    let db: TestDatabase;
    let store: Store;
    const clock = manualClock(T0 - 60 * MINUTE);
    const master = masterKeyFrom(randomBytes(32));
    let agentId: string;
    let hook: Awaited<ReturnType<typeof receiver>>;
    const deps = () => ({
      store,
      clock,
      settings: { agentDefaultTtlMs: 86_400_000 * 30, adminTokenDefaultTtlMs: 86_400_000 },
    });

    before(async () => {
      db = await createTestDatabase(dialect);
      store = await openStore(db.url, { migrate: true, nowMs: clock.now() });
      await createUser(deps(), SYSTEM_ACTOR, { email: 'owner@example.com', name: 'Owner' });
      agentId = (await createAgent(deps(), SYSTEM_ACTOR, { name: 'watched', owner: 'owner@example.com' })).id;
      hook = await receiver();
    });
    after(async () => {
      await hook.close();
      await store.close();
      await db.drop();
    });

    const options = (over: Partial<PipelineOptions> = {}): PipelineOptions => ({
      settings: {
        ...DEFAULT_SETTINGS,
        learningMs: 10 * MINUTE,
        rules: [{ detector: 'call-rate-spike', minSeverity: 'high', action: 'suspend' }],
      },
      intervalMs: 250,
      batchSize: 64,
      baselineFlushMs: 10_000,
      cursorFlushMs: 0,
      webhook: { url: hook.url, secret: SECRET },
      setReceivers: [],
      setSigner: null,
      ...over,
    });
    const pipeline = (over: Partial<PipelineOptions> = {}, fetchImpl?: typeof fetch) =>
      new MonitorPipeline(
        {
          store,
          clock,
          logger,
          metrics: null,
          issuer: 'https://custos.example',
          deliverer: new Deliverer({
            store,
            clock,
            logger,
            metrics: null,
            webhookSecret: SECRET,
            ...(fetchImpl ? { fetch: fetchImpl } : {}),
          }),
        },
        options(over),
      );

    /** Reports calls (tool, time, address) as a resource server would, in one durable batch. */
    async function report(calls: readonly [string, number, string?][]): Promise<void> {
      const statements: Statement[] = calls.map(([tool, at, address]) => {
        clock.set(at);
        return auditStatement(clock, RS, {
          action: 'activity.report',
          target: { type: 'agent', id: agentId },
          details: {
            kind: 'call',
            activity: 'tools/call',
            resource: { type: 'Tool', id: tool },
            occurredAt: at,
            sourceAddress: address ?? '10.0.0.1',
          },
        });
      });
      await store.writeBatch([{ statements }]);
    }
    const learning = (from: number) =>
      Array.from({ length: 45 }, (_, i) => ['crm/search', from + i * 20_000] as [string, number]);

    it('learns from the history already in the log, then raises findings, responds and alerts', async () => {
      await report(learning(T0));
      const p = pipeline();
      clock.set(T0 + 16 * MINUTE);
      await p.tick();
      assert.equal(
        (await store.monitor.findings.list({ limit: 10 })).items.length,
        0,
        'history raises nothing',
      );
      const baseline = p.detectors?.baseline(agentId);
      assert.ok(baseline?.resources.has('Tool::"crm/search"'), 'history was learned');

      await report(
        Array.from({ length: 100 }, (_, i) => ['admin/exec', T0 + 20 * MINUTE + i * 300] as [string, number]),
      );
      await p.tick();
      const findings = (await store.monitor.findings.list({ limit: 10 })).items;
      assert.deepEqual(findings.map((f) => f.detector).sort(), ['call-rate-spike', 'new-resource']);
      const spike = findings.find((f) => f.detector === 'call-rate-spike');
      assert.equal(spike?.status, 'open');
      assert.equal(spike?.response, 'suspend');
      assert.equal(findings.find((f) => f.detector === 'new-resource')?.response, 'notify');
      assert.ok((spike?.evidence.length ?? 0) > 0 && spike?.evidence.every((e) => typeof e.seq === 'number'));

      const agent = await store.agents.get(agentId);
      assert.equal(agent?.status, 'suspended');
      assert.match(
        agent?.statusReason ?? '',
        new RegExp(`monitor finding ${spike?.id} \\(call-rate-spike, high`),
      );
      const audit = (await store.audit.list({ limit: 500, agentId })).items;
      const suspension = audit.find((e) => e.action === 'agent.suspend');
      assert.deepEqual([suspension?.actorType, suspension?.actorId], ['system', 'custos-monitor']);
      assert.equal(audit.filter((e) => e.action === 'finding.raise').length, 2);

      // both alerts were stored with the findings and delivered, signed
      assert.equal((await store.monitor.deliveries.list({ channel: 'webhook' })).length, 2);
      assert.equal(await store.monitor.deliveries.pending(), 0);
      assert.equal(hook.got.length, 2);
      for (const r of hook.got) {
        assert.ok(validSignature(r), 'a valid HMAC signature');
        const body = JSON.parse(r.body) as { id: string; type: string; finding: { agent: string } };
        assert.equal(body.type, 'custos.finding');
        assert.equal(body.id, r.headers['x-custos-delivery']);
        assert.equal(body.finding.agent, agentId);
      }
      await p.stop();
      await transitionAgent(deps(), SYSTEM_ACTOR, agentId, 'resume', 'reviewed');
    });

    it('resumes after a restart from its cursor without raising again what is open', async () => {
      const before = await store.monitor.state.get('default');
      const p = pipeline();
      await report([
        ['admin/exec', T0 + 40 * MINUTE],
        ['crm/search', T0 + 40 * MINUTE + 1000],
      ]);
      await p.tick();
      const after = await store.monitor.state.get('default');
      assert.ok(after && before && after.cursor > before.cursor);
      assert.equal(after?.cursor, (await store.auditLog.head()).seq);
      assert.equal((await store.monitor.findings.list({ limit: 10 })).items.length, 2, 'nothing new');
      await p.stop();
    });

    it('replays what the persisted baselines miss after a crash (learning only)', async () => {
      // a crash: the pipeline never flushes its baselines nor releases its lease
      const crashed = pipeline({ baselineFlushMs: 1e12 });
      clock.set(T0 + 50 * MINUTE);
      await crashed.tick();
      await report([['crm/lookup', T0 + 50 * MINUTE + 1000]]);
      await crashed.tick();
      const state = await store.monitor.state.get('default');
      assert.ok(state && state.baselineSeq < state.cursor, 'the baselines miss the last events');
      await store.monitor.baselines.delete(agentId);
      clock.set(T0 + 50 * MINUTE + 5000);
      const restarted = pipeline();
      await restarted.tick();
      assert.equal(
        (await store.monitor.state.get('default'))?.leaseOwner,
        state?.leaseOwner,
        'the lease is still held',
      );
      assert.equal(restarted.detectors, null);
      clock.set(T0 + 52 * MINUTE);
      await restarted.tick();
      assert.ok(engineOf(restarted)?.baseline(agentId)?.resources.has('Tool::"crm/lookup"'), 'replayed');
      await report([['crm/lookup', T0 + 52 * MINUTE + 1000]]);
      await restarted.tick();
      // admin/exec, and crm/lookup (new when the crashed node saw it): raised once each
      assert.equal(
        (await store.monitor.findings.list({ limit: 10, detector: 'new-resource' })).items.length,
        2,
      );
      await restarted.stop();
      assert.equal((await store.monitor.state.get('default'))?.leaseOwner, null);
    });

    it('lets one node at a time run it', async () => {
      clock.set(T0 + 64 * MINUTE);
      const [a, b] = [pipeline(), pipeline()];
      await a.tick();
      await b.tick();
      assert.ok(a.detectors !== null);
      assert.equal(b.detectors, null, 'the second node stands by');
      // (the agent's baseline was rebuilt from T0 + 50 min: it learns until T0 + 60 min)
      await report(
        Array.from({ length: 5 }, (_, i) => [`new/tool-${i}`, T0 + 65 * MINUTE + i] as [string, number]),
      );
      await Promise.all([a.tick(), b.tick()]);
      assert.equal(
        (await store.monitor.findings.list({ limit: 50, detector: 'new-resource' })).items.length,
        7,
      );
      await a.stop();
      clock.set(T0 + 66 * MINUTE);
      await b.tick();
      assert.ok(engineOf(b) !== null, 'takes over once released');
      await b.stop();
    });

    it('delivers an alert at least once with backoff, across a restart, and then never again', async () => {
      const flaky = await receiver([500, 503]);
      try {
        clock.set(T0 + 70 * MINUTE);
        const finding = (await store.monitor.findings.list({ limit: 1 })).items[0];
        assert.ok(finding);
        const row = webhookDelivery({ url: flaky.url, secret: SECRET }, finding, 'notify', clock.now());
        await store.monitor.deliveries.insert(row);
        const deliverer = () => new Deliverer({ store, clock, logger, metrics: null, webhookSecret: SECRET });
        assert.equal(await deliverer().round(), 0);
        let stored = (await store.monitor.deliveries.list({ findingId: finding.id })).find(
          (d) => d.id === row.id,
        );
        assert.equal(stored?.attempts, 1);
        assert.ok(stored && stored.nextAt >= clock.now() + 1600 && stored.nextAt <= clock.now() + 2400);
        // a restart: a new deliverer finds it in the outbox, not yet due
        assert.equal(await deliverer().round(), 0);
        assert.equal(flaky.got.length, 1);
        clock.advance(2500);
        assert.equal(await deliverer().round(), 0);
        stored = (await store.monitor.deliveries.list({ findingId: finding.id })).find(
          (d) => d.id === row.id,
        );
        assert.ok(stored && stored.attempts === 2 && stored.nextAt >= clock.now() + 3200, 'the wait doubles');
        clock.advance(5000);
        assert.equal(await deliverer().round(), 1);
        clock.advance(60 * MINUTE);
        assert.equal(await deliverer().round(), 0);
        assert.equal(flaky.got.length, 3);
        assert.ok(flaky.got.every((r) => r.body === row.body && r.headers['x-custos-delivery'] === row.id));
        assert.ok(flaky.got.every(validSignature));
        assert.match(String(flaky.got[0]?.headers['x-custos-signature']), /^t=\d+,v1=[0-9a-f]{64}$/);
      } finally {
        await flaky.close();
      }
    });

    it('re-seals the SET key with a new master key when loaded during a rotation', async () => {
      const before = await SetSigner.load({ store, clock, master });
      const next = masterKeyFrom(randomBytes(32), [master.key]);
      const during = await SetSigner.load({ store, clock, master: next });
      assert.equal(during.kid, before.kid);
      const [stored] = await store.monitor.setKeys.list();
      assert.match(stored?.privateKey ?? '', new RegExp(`^v1\\.${next.id}\\.`));
      const onlyNew = masterKeyFrom(next.key);
      assert.equal((await SetSigner.load({ store, clock, master: onlyNew })).kid, before.kid);
      // put it back under the test's master key for the next test
      await store.monitor.setKeys.reseal(before.kid, stored?.privateKey ?? '');
      const back = masterKeyFrom(master.key, [next.key]);
      await SetSigner.load({ store, clock, master: back });
    });

    it('pushes Security Event Tokens when an agent is stopped or its keys change', async () => {
      const sets = await receiver();
      const refusing = await receiver([400]);
      try {
        clock.set(T0 + 80 * MINUTE);
        const signer = await SetSigner.load({ store, clock, master });
        assert.equal((await SetSigner.load({ store, clock, master })).kid, signer.kid, 'one key, reused');
        const p = pipeline({ setReceivers: [sets.url, refusing.url], setSigner: signer, webhook: null });
        await p.tick();
        const { publicKey } = await import('node:crypto').then((c) =>
          c.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
        );
        const jwk = publicKey.export({ format: 'jwk' });
        const { addAgentKey } = await import('../identity/index.js');
        const key = await addAgentKey(deps(), SYSTEM_ACTOR, agentId, { jwk });
        await revokeAgentKey(deps(), SYSTEM_ACTOR, agentId, key.kid);
        await transitionAgent(deps(), SYSTEM_ACTOR, agentId, 'suspend', 'incident 42');
        await p.tick();
        assert.equal(sets.got.length, 3);
        const keys = createLocalJWKSet(signer.jwks() as { keys: JWK[] });
        const types: string[] = [];
        for (const r of sets.got) {
          assert.equal(r.headers['content-type'], 'application/secevent+jwt');
          const { payload, protectedHeader } = await jwtVerify(r.body, keys, {
            issuer: 'https://custos.example',
            audience: sets.url,
            typ: 'secevent+jwt',
            currentDate: new Date(clock.now()),
          });
          assert.equal(protectedHeader.kid, signer.kid);
          assert.deepEqual(payload.sub_id, { format: 'opaque', id: agentId });
          assert.equal(typeof payload.jti, 'string');
          assert.equal(payload.exp, undefined, 'SETs carry no exp (RFC 8417 §2.2)');
          const events = payload.events as Record<string, Record<string, unknown>>;
          const [type] = Object.keys(events);
          types.push(type as string);
          const body = events[type as string];
          assert.equal(body?.initiating_entity, 'system');
          if (type === CAEP_SESSION_REVOKED) assert.deepEqual(body?.reason_admin, { en: 'incident 42' });
          if (type === CAEP_CREDENTIAL_CHANGE) assert.equal(body?.friendly_name, key.kid);
        }
        assert.deepEqual(types, [CAEP_CREDENTIAL_CHANGE, CAEP_CREDENTIAL_CHANGE, CAEP_SESSION_REVOKED]);
        // a receiver that refuses a SET as invalid (400) is not asked again
        clock.advance(60 * MINUTE);
        await p.tick();
        assert.equal(refusing.got.length, 3);
        await p.stop();
      } finally {
        await sets.close();
        await refusing.close();
      }
    });
  });
}
