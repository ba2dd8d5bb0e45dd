import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  createTestDatabase,
  DIALECTS,
  POSTGRES_URL,
  type TestDatabase,
} from '../../test/support/databases.js';
import { readAllEvents, verifyChain } from '../audit/index.js';
import { newId } from '../core/index.js';
import {
  type AuditEventInput,
  auditEventStatement,
  injectSqliteWriteFault,
  openStore,
  type Store,
  StoreUnavailable,
} from './index.js';

const T0 = Date.UTC(2026, 2, 1);

function event(n: number, extra: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    id: newId('evt', T0 + n),
    at: T0 + n * 1000,
    requestId: `req_${n}`,
    actorType: 'admin_token',
    actorId: 'tok_a',
    action: 'agent.update',
    targetType: 'agent',
    targetId: 'agt_x',
    outcome: 'success',
    reason: null,
    details: { actorRole: 'admin', n },
    ...extra,
  };
}

/** Runs SQL straight against the test database, as someone with database access would. */
async function tamper(db: TestDatabase, dialect: string, sql: string, params: (string | number)[] = []) {
  if (dialect === 'sqlite') {
    const raw = new Database(db.url.slice('sqlite:'.length));
    try {
      raw.prepare(sql.replace(/\$\d+/g, '?')).run(...params);
    } finally {
      raw.close();
    }
    return;
  }
  const schema = new URL(db.url).searchParams.get('schema');
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`SET search_path = "${schema}"`);
    await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/** The audit parts of the Store contract: queries, retention, sink cursors, tamper detection, fail closed. */
for (const dialect of DIALECTS) {
  describe(`Store contract: audit log (${dialect})`, () => {
    let db: TestDatabase;
    let store: Store;

    before(async () => {
      db = await createTestDatabase(dialect);
      store = await openStore(db.url, { migrate: true, nowMs: T0 });
      // 1..6: a mix of actors, targets, outcomes and texts to filter on
      await store.audit.append(event(1));
      await store.audit.append(event(2, { action: 'agent.suspend', reason: 'Odd CALLS to payments' }));
      await store.audit.append(
        event(3, {
          actorType: 'agent',
          actorId: 'agt_x',
          action: 'token.issue',
          targetId: 'agt_x',
          details: { scopes: ['read'], onBehalfOf: 'usr_alice', delegation: ['agt_x'] },
        }),
      );
      await store.audit.append(
        event(4, {
          actorType: 'anonymous',
          actorId: 'unauthenticated',
          action: 'token.refuse',
          targetId: 'agt_y',
          outcome: 'denied',
          reason: 'invalid_client: bad signature',
        }),
      );
      await store.audit.append(
        event(5, {
          actorId: 'tok_owner',
          action: 'user.update',
          targetType: 'user',
          targetId: 'usr_bob',
          details: { actorRole: 'owner', actorUserId: 'usr_alice' },
        }),
      );
      await store.audit.append(
        event(6, {
          actorType: 'system',
          actorId: 'custos',
          action: 'signing_key.rotate',
          targetType: 'signing_key',
          targetId: 'k1',
          details: { note: '50% done_x' },
        }),
      );
    });
    after(async () => {
      await store.close();
      await db.drop();
    });

    const seqs = async (filter: Parameters<Store['audit']['list']>[0]) =>
      (await store.audit.list(filter)).items.map((e) => (e.at - T0) / 1000);

    it('filters by time range, action (exact and prefix), outcome and actor', async () => {
      assert.deepEqual(await seqs({ limit: 50, from: T0 + 2000, to: T0 + 4000 }), [2, 3]);
      assert.deepEqual(await seqs({ limit: 50, action: 'token.*' }), [3, 4]);
      assert.deepEqual(await seqs({ limit: 50, action: 'agent.suspend' }), [2]);
      assert.deepEqual(await seqs({ limit: 50, action: 'agent' }), []);
      assert.deepEqual(await seqs({ limit: 50, outcome: 'denied' }), [4]);
      assert.deepEqual(await seqs({ limit: 50, actorId: 'tok_owner' }), [5]);
      assert.deepEqual(await seqs({ limit: 50, actorType: 'system' }), [6]);
    });

    it('filters by agent (as actor or target) and by user (behind the actor, acted for, or target)', async () => {
      assert.deepEqual(await seqs({ limit: 50, agentId: 'agt_x' }), [1, 2, 3]);
      assert.deepEqual(await seqs({ limit: 50, agentId: 'agt_y' }), [4]);
      assert.deepEqual(await seqs({ limit: 50, userId: 'usr_alice' }), [3, 5]);
      assert.deepEqual(await seqs({ limit: 50, userId: 'usr_bob' }), [5]);
      assert.deepEqual(await seqs({ limit: 50, userId: 'usr_nobody' }), []);
    });

    it('searches text case-insensitively and literally (LIKE wildcards are plain characters)', async () => {
      assert.deepEqual(await seqs({ limit: 50, q: 'odd calls' }), [2]);
      assert.deepEqual(await seqs({ limit: 50, q: 'BAD SIGNATURE' }), [4]);
      assert.deepEqual(await seqs({ limit: 50, q: '50% done_' }), [6]);
      assert.deepEqual(await seqs({ limit: 50, q: '%' }), [6]);
      assert.deepEqual(await seqs({ limit: 50, q: 'req_5' }), [5]);
    });

    it('pages in both orders and follows the log with afterSeq', async () => {
      const first = await store.audit.list({ limit: 2, order: 'desc' });
      assert.deepEqual(
        first.items.map((e) => e.action),
        ['signing_key.rotate', 'user.update'],
      );
      const next = await store.audit.list({ limit: 2, order: 'desc', cursor: first.nextCursor ?? '' });
      assert.deepEqual(
        next.items.map((e) => e.action),
        ['token.refuse', 'token.issue'],
      );
      const head = await store.auditLog.head();
      assert.deepEqual(await seqs({ limit: 50, afterSeq: head.seq - 2 }), [5, 6]);
      assert.deepEqual(await seqs({ limit: 50, afterSeq: head.seq }), []);
    });

    it('keeps a sink cursor that only its lease holder advances, by compare-and-set', async () => {
      await store.auditLog.ensureSink('siem', 0, T0);
      await store.auditLog.ensureSink('siem', 99, T0); // exists: unchanged
      assert.ok(await store.auditLog.leaseSink('siem', 'node_a', T0 + 30_000, T0));
      assert.equal(await store.auditLog.leaseSink('siem', 'node_b', T0 + 30_000, T0 + 1), null);
      assert.equal(await store.auditLog.advanceSink('siem', 'node_b', 0, 3, T0), false);
      assert.equal(await store.auditLog.advanceSink('siem', 'node_a', 1, 3, T0), false);
      assert.equal(await store.auditLog.advanceSink('siem', 'node_a', 0, 3, T0), true);
      await store.auditLog.sinkFailed('siem', 'node_a', 'HTTP 500', T0);
      assert.equal((await store.auditLog.listSinks())[0]?.lastError, 'HTTP 500');
      // an expired lease passes to another node, which resumes from the stored cursor
      const taken = await store.auditLog.leaseSink('siem', 'node_b', T0 + 90_000, T0 + 31_000);
      assert.equal(taken?.cursor, 3);
      assert.equal(await store.auditLog.advanceSink('siem', 'node_a', 3, 4, T0), false);
      await store.auditLog.releaseSink('siem', 'node_b');
      assert.equal((await store.auditLog.listSinks())[0]?.leaseOwner, null);
    });

    it('deletes a prefix for retention and reports the oldest remaining event', async () => {
      const scratch = await createTestDatabase(dialect);
      const s = await openStore(scratch.url, { migrate: true, nowMs: T0 });
      try {
        assert.equal(await s.auditLog.firstSeq(), null);
        for (let i = 1; i <= 4; i++) await s.audit.append(event(i));
        assert.equal(await s.auditLog.firstSeq(), 1);
        assert.equal(await s.auditLog.deleteThrough(2), 2);
        assert.equal(await s.auditLog.firstSeq(), 3);
        // the chain continues from the head, not from what is left
        assert.equal(await s.audit.append(event(5)), 5);
      } finally {
        await s.close();
        await scratch.drop();
      }
    });

    it('detects and locates tampering done with SQL on the stored log', async () => {
      const scratch = await createTestDatabase(dialect);
      let s = await openStore(scratch.url, { migrate: true, nowMs: T0 });
      const reopen = async () => {
        await s.close();
        s = await openStore(scratch.url, { nowMs: T0 });
      };
      try {
        await s.writeBatch(
          Array.from({ length: 4 }, (_, i) => ({ statements: [auditEventStatement(event(i + 1))] })),
        );
        for (let i = 5; i <= 8; i++) await s.audit.append(event(i));
        const base = (await s.auditLog.head()).seq;
        assert.equal((await verifyChain(readAllEvents(s))).ok, true);

        await tamper(scratch, dialect, 'UPDATE audit_events SET outcome = $1 WHERE seq = $2', ['failure', 3]);
        await reopen();
        let report = await verifyChain(readAllEvents(s));
        assert.deepEqual([report.problem?.kind, report.problem?.seq], ['modified', 3]);
        await tamper(scratch, dialect, 'UPDATE audit_events SET outcome = $1 WHERE seq = $2', ['success', 3]);

        await tamper(scratch, dialect, 'DELETE FROM audit_events WHERE seq = $1', [6]);
        await reopen();
        report = await verifyChain(readAllEvents(s));
        assert.deepEqual([report.problem?.kind, report.problem?.seq], ['missing', 6]);

        await tamper(scratch, dialect, 'DELETE FROM audit_events WHERE seq > $1', [4]);
        await reopen();
        report = await verifyChain(readAllEvents(s), [{ size: base, hash: (await s.auditLog.head()).hash }]);
        assert.deepEqual([report.problem?.kind, report.problem?.seq], ['truncated', 5]);
      } finally {
        await s.close();
        await scratch.drop();
      }
    });

    if (dialect === 'sqlite') {
      it('fails closed with StoreUnavailable when the file is read-only or full, and recovers by itself', async () => {
        const scratch = await createTestDatabase(dialect);
        const path = scratch.url.slice('sqlite:'.length);
        const s = await openStore(scratch.url, { migrate: true, nowMs: T0 });
        try {
          await s.audit.append(event(1));
          await s.writeBatch([{ statements: [auditEventStatement(event(2))] }]);
          const head = await s.auditLog.head();
          for (const fault of ['read_only', 'disk_full'] as const) {
            await injectSqliteWriteFault(path, fault);
            // a big event needs new pages, which a full database cannot give
            const big = event(3, { details: { blob: 'x'.repeat(20_000) } });
            await assert.rejects(s.audit.append(big), StoreUnavailable);
            await assert.rejects(
              s.writeBatch([{ statements: [auditEventStatement(big)] }]),
              StoreUnavailable,
            );
            await assert.rejects(
              s.transaction(async (tx) => {
                await tx.audit.append(big);
              }),
              (error: unknown) => error instanceof StoreUnavailable && error.code === 'unavailable',
            );
            assert.deepEqual(await s.auditLog.head(), head, `nothing was kept under ${fault}`);
            // reads still work
            assert.equal((await s.audit.list({ limit: 10 })).items.length, 2);
            await injectSqliteWriteFault(path, null);
          }
          assert.equal(await s.audit.append(event(3)), head.seq + 1);
          const batch = await s.writeBatch([{ statements: [auditEventStatement(event(4))] }]);
          assert.equal(batch[0]?.ok, true);
          assert.equal((await verifyChain(readAllEvents(s))).ok, true);
        } finally {
          await injectSqliteWriteFault(path, null);
          await s.close();
          await scratch.drop();
        }
      });
    }
  });
}
