import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../test/support/databases.js';
import { newId } from '../core/index.js';
import type { BatchUnit } from './batch.js';
import { createGroupCommitter } from './group-commit.js';
import { auditEventStatement, claimJtiStatement, openStore, RecentEvents, type Store } from './index.js';

const T0 = Date.UTC(2026, 0, 1);
const FUTURE = Date.UTC(2100, 0, 1);
const WATCHED: ReadonlySet<string> = new Set(['token.issue', 'gateway.call']);
let n = 0;

const event = (action: string, details: Record<string, unknown> = {}) =>
  auditEventStatement({
    id: newId('evt', T0 + ++n),
    at: T0 + n,
    requestId: `req_${n}`,
    actorType: 'agent',
    actorId: 'agt_x',
    action,
    targetType: 'agent',
    targetId: 'agt_x',
    outcome: 'success',
    reason: null,
    details: { n, ...details },
  });

/** What the monitor uses of an event (the chain's hashes are the writer's, not known in memory). */
const seen = (e: {
  seq: number;
  id: string;
  action: string;
  details: Readonly<Record<string, unknown>>;
}) => ({
  seq: e.seq,
  id: e.id,
  action: e.action,
  details: e.details,
});

for (const dialect of DIALECTS) {
  describe(`recent events (${dialect})`, () => {
    let db: TestDatabase;
    let store: Store;
    before(async () => {
      db = await createTestDatabase(dialect);
      store = await openStore(db.url, { migrate: true });
    });
    after(async () => {
      await store.close();
      await db.drop();
    });

    /**
     * A committer feeding `recent`, and the audit head before anything was
     * submitted; `recent` has been asked once, as a running monitor does.
     */
    async function setup(recent: RecentEvents) {
      const committer = createGroupCommitter(store, { committed: (u, o) => recent.add(u, o) });
      assert.deepEqual(recent.take(0, 0, WATCHED, 1), []);
      return { committer, head: (await store.auditLog.head()).seq };
    }

    it('answers what the store answers for what this process committed, undone units left out', async () => {
      const recent = new RecentEvents();
      const { committer, head } = await setup(recent);
      const jti = `jti-${n}`;
      const units: BatchUnit[] = [
        {
          statements: [claimJtiStatement('test', jti, FUTURE, 'replayed'), event('token.issue', { a: [1] })],
        },
        { statements: [event('gateway.call'), event('user.create'), event('gateway.call', { b: 'x' })] },
        // undone (a replayed jti): its event is never stored, and its number goes to the next one
        { statements: [claimJtiStatement('test', jti, FUTURE, 'replayed'), event('token.issue')] },
        { statements: [event('token.issue')] },
      ];
      const outcomes = await Promise.all(units.map((u) => committer.submit(u)));
      assert.deepEqual(
        outcomes.map((o) => o.ok),
        [true, true, false, true],
      );
      const through = (await store.auditLog.head()).seq;
      assert.equal(through - head, 5, 'five events stored');
      const fromStore = await store.monitor.events(head, through, [...WATCHED], [], 64);
      const fromMemory = recent.take(head, through, WATCHED, 64);
      assert.ok(fromMemory, 'the whole range is held');
      assert.deepEqual(fromMemory.map(seen), fromStore.map(seen));
      assert.equal(fromMemory.length, 4);
      // taken: passed over and forgotten
      assert.equal(recent.take(head, through, WATCHED, 64), null);
    });

    it('stops at the limit, and the next range goes on from the last event taken', async () => {
      const recent = new RecentEvents();
      const { committer, head } = await setup(recent);
      await committer.submit({
        statements: [event('token.issue'), event('user.create'), event('gateway.call'), event('token.issue')],
      });
      const through = (await store.auditLog.head()).seq;
      const first = recent.take(head, through, WATCHED, 2);
      assert.deepEqual(
        first?.map((e) => e.seq),
        [head + 1, head + 3],
      );
      const rest = recent.take(head + 3, through, WATCHED, 2);
      assert.deepEqual(
        rest?.map((e) => e.seq),
        [head + 4],
      );
      assert.deepEqual(
        (await store.monitor.events(head, through, [...WATCHED], [], 2)).map((e) => e.seq),
        [head + 1, head + 3],
      );
    });

    it('answers null for a range with an event it did not see, so the store is read', async () => {
      const recent = new RecentEvents();
      const { committer, head } = await setup(recent);
      await committer.submit({ statements: [event('token.issue')] });
      // written by another path (or node): not in memory
      await store.writeBatch([{ statements: [event('gateway.call')] }]);
      await committer.submit({ statements: [event('token.issue')] });
      const through = (await store.auditLog.head()).seq;
      assert.equal(recent.take(head, through, WATCHED, 64), null, 'a gap in the middle');
      assert.deepEqual(
        recent.take(head, head + 1, WATCHED, 64)?.map((e) => e.seq),
        [head + 1],
        'before the gap, the range is whole',
      );
      assert.equal(recent.take(head + 1, through, WATCHED, 64), null);
      assert.deepEqual(
        recent.take(head + 2, through, WATCHED, 64)?.map((e) => e.seq),
        [head + 3],
        'after it, whole again',
      );
      assert.equal(recent.take(through, through + 1, WATCHED, 64), null, 'not committed yet');
    });

    it('notes nothing while nobody takes events (a monitor standing by, or stopped)', async () => {
      const recent = new RecentEvents(4096, 100);
      const committer = createGroupCommitter(store, { committed: (u, o) => recent.add(u, o) });
      await committer.submit({ statements: [event('token.issue')] });
      assert.equal(recent.size, 0, 'never asked: nothing kept');
      const head = (await store.auditLog.head()).seq;
      assert.deepEqual(recent.take(head, head, WATCHED, 64), []);
      await committer.submit({ statements: [event('token.issue')] });
      assert.equal(recent.size, 1, 'asked a moment ago: kept');
      await new Promise((r) => setTimeout(r, 150));
      await committer.submit({ statements: [event('token.issue')] });
      assert.equal(recent.size, 0, 'not asked for longer than its idle time: dropped');
    });

    it('holds at most its capacity, the oldest pushed out first', async () => {
      const recent = new RecentEvents(2);
      const { committer, head } = await setup(recent);
      await committer.submit({
        statements: [event('token.issue'), event('token.issue'), event('token.issue')],
      });
      assert.equal(recent.size, 2);
      assert.equal(recent.take(head, head + 3, WATCHED, 64), null, 'the first was pushed out');
      assert.equal(recent.take(head + 1, head + 3, WATCHED, 64)?.length, 2);
    });
  });
}
