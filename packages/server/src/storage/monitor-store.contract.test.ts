import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../test/support/databases.js';
import { newId } from '../core/index.js';
import { auditEventStatement, type FindingRecord, openStore, type Store } from './index.js';

const T0 = Date.UTC(2026, 0, 1);

function finding(key: string, extra: Partial<FindingRecord> = {}): FindingRecord {
  return {
    id: newId('fnd', T0),
    detector: 'new-resource',
    severity: 'medium',
    agentId: 'agt_00000000000000000000000001',
    dedupKey: key,
    status: 'open',
    title: 't',
    explanation: 'e',
    evidence: [{ seq: 1 }],
    occurrences: 1,
    firstSeen: T0,
    lastSeen: T0,
    response: null,
    statusReason: null,
    statusBy: null,
    createdAt: T0,
    updatedAt: T0,
    ...extra,
  };
}

/** The monitor's repositories meet the same contract on both adapters. */
for (const dialect of DIALECTS) {
  describe(`monitor store contract (${dialect})`, () => {
    let db: TestDatabase;
    let store: Store;
    before(async () => {
      db = await createTestDatabase(dialect);
      store = await openStore(db.url, { migrate: true, nowMs: T0 });
    });
    after(async () => {
      await store.close();
      await db.drop();
    });

    it('lets exactly one of many concurrent status changes of a finding win', async () => {
      const f = finding('race');
      await store.monitor.findings.insert(f);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          store.transaction((tx) =>
            tx.monitor.findings.setStatus(
              f.id,
              ['open'],
              'acknowledged',
              { reason: `r${i}`, by: `u${i}` },
              T0 + 1,
            ),
          ),
        ),
      );
      assert.equal(results.filter((r) => r !== null).length, 1);
      assert.equal((await store.monitor.findings.get(f.id))?.status, 'acknowledged');
    });

    it('finds the open finding of a key, not a closed one, and records repeats', async () => {
      const closed = finding('k1', { status: 'resolved' });
      await store.monitor.findings.insert(closed);
      assert.equal(await store.monitor.findings.openByKey('k1'), null);
      const open = finding('k1');
      await store.monitor.findings.insert(open);
      assert.equal((await store.monitor.findings.openByKey('k1'))?.id, open.id);
      await store.monitor.findings.repeat(
        open.id,
        { severity: 'high', lastSeen: T0 + 5, evidence: [{ seq: 2 }] },
        T0 + 5,
      );
      const repeated = await store.monitor.findings.get(open.id);
      assert.deepEqual([repeated?.occurrences, repeated?.severity, repeated?.lastSeen], [2, 'high', T0 + 5]);
      assert.deepEqual(repeated?.evidence, [{ seq: 2 }]);
      const counts = await store.monitor.findings.countByStatus();
      assert.ok((counts.open ?? 0) >= 1 && (counts.resolved ?? 0) >= 1);
    });

    it('keeps one lease holder at a time and moves the cursor by compare-and-set', async () => {
      await store.monitor.state.ensure('contract', 10, 5, T0);
      await store.monitor.state.ensure('contract', 99, 99, T0); // exists: unchanged
      assert.deepEqual((await store.monitor.state.get('contract'))?.cursor, 10);
      const leases = await Promise.all(
        ['a', 'b', 'c', 'd'].map((owner) => store.monitor.state.lease('contract', owner, T0 + 1000, T0)),
      );
      const holders = leases.filter((l) => l !== null);
      assert.equal(holders.length, 1);
      const owner = holders[0]?.leaseOwner as string;
      assert.equal(await store.monitor.state.advance('contract', 'intruder', 10, 20, T0), false);
      assert.equal(await store.monitor.state.advance('contract', owner, 11, 20, T0), false, 'stale `from`');
      assert.equal(await store.monitor.state.advance('contract', owner, 10, 20, T0), true);
      assert.equal(await store.monitor.state.setBaselineSeq('contract', 'intruder', 20, T0), false);
      assert.equal(
        await store.monitor.state.lease('contract', 'other', T0 + 2000, T0 + 500),
        null,
        'still held',
      );
      assert.ok(
        await store.monitor.state.lease('contract', 'other', T0 + 3000, T0 + 1001),
        'expired: taken over',
      );
    });

    it('reads only the asked audit actions and prefixes (LIKE wildcards literal), in order', async () => {
      const ev = (action: string, i: number) =>
        auditEventStatement({
          id: newId('evt', T0 + i),
          at: T0 + i,
          requestId: null,
          actorType: 'system',
          actorId: 'x',
          action,
          targetType: null,
          targetId: null,
          outcome: 'success',
          reason: null,
          details: { i },
        });
      const head = (await store.auditLog.head()).seq;
      await store.writeBatch([
        {
          statements: [
            'token.issue',
            'agent_key.revoke',
            'agentXkey.revoke',
            'user.create',
            'gateway.call',
          ].map(ev),
        },
      ]);
      const now = (await store.auditLog.head()).seq;
      const got = await store.monitor.events(head, now, ['token.issue', 'gateway.call'], ['agent_key.'], 10);
      assert.deepEqual(
        got.map((e) => e.action),
        ['token.issue', 'agent_key.revoke', 'gateway.call'],
      );
      assert.deepEqual(
        (await store.monitor.events(head, now, ['token.issue', 'gateway.call'], [], 1)).map((e) => e.action),
        ['token.issue'],
      );
      assert.deepEqual(await store.monitor.events(head, head + 1, ['gateway.call'], [], 10), []);
    });

    it('hands out due deliveries oldest first and counts what is pending', async () => {
      const base = {
        channel: 'webhook' as const,
        target: 'http://x',
        contentType: 'application/json',
        body: '{}',
        findingId: null,
        attempts: 0,
        deliveredAt: null,
        lastError: null,
        createdAt: T0,
      };
      await store.monitor.deliveries.insert({ ...base, id: 'dlv_b', nextAt: T0 + 10 });
      await store.monitor.deliveries.insert({ ...base, id: 'dlv_a', nextAt: T0 + 5 });
      await store.monitor.deliveries.insert({ ...base, id: 'dlv_c', nextAt: T0 + 100 });
      assert.deepEqual(
        (await store.monitor.deliveries.due(T0 + 50, 10)).map((d) => d.id),
        ['dlv_a', 'dlv_b'],
      );
      assert.equal(await store.monitor.deliveries.pending(), 3);
      await store.monitor.deliveries.delivered('dlv_a', T0 + 51);
      await store.monitor.deliveries.failed('dlv_b', 1, T0 + 200, 'HTTP 500');
      assert.deepEqual(await store.monitor.deliveries.due(T0 + 150, 10).then((d) => d.map((x) => x.id)), [
        'dlv_c',
      ]);
      assert.equal(await store.monitor.deliveries.pending(), 2);
    });
  });
}
