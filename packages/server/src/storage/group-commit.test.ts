import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../test/support/databases.js';
import { createGroupCommitter } from './group-commit.js';
import { openStore } from './open-store.js';
import { claimJtiStatement } from './statements.js';
import type { Store } from './store.js';

const FUTURE = Date.UTC(2100, 0, 1);

for (const dialect of DIALECTS) {
  describe(`group commit (${dialect})`, () => {
    let db: TestDatabase;
    let store: Store;
    let n = 0;
    const claim = () => ({ statements: [claimJtiStatement('test', `jti-${n++}`, FUTURE, 'replayed')] });

    before(async () => {
      db = await createTestDatabase(dialect);
      store = await openStore(db.url, { migrate: true });
    });
    after(async () => {
      await store.close();
      await db.drop();
    });

    it('commits units that linger together, in one batch', async () => {
      const batches: number[] = [];
      const committer = createGroupCommitter(store, { observe: (units) => batches.push(units) });
      const outcomes = await Promise.all([
        committer.submit(claim(), { linger: true }),
        committer.submit(claim(), { linger: true }),
        committer.submit(claim(), { linger: true }),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.ok),
        [true, true, true],
      );
      assert.deepEqual(batches, [3]);
    });

    it('an urgent unit takes the lingering ones along at once', async () => {
      const batches: number[] = [];
      // a linger far longer than the test: only the urgent unit can send them
      const committer = createGroupCommitter(store, { lingerMs: 600_000, observe: (u) => batches.push(u) });
      const lingering = committer.submit(claim(), { linger: true });
      const urgent = await committer.submit(claim());
      assert.equal(urgent.ok, true);
      assert.equal((await lingering).ok, true);
      assert.deepEqual(batches, [2]);
    });

    it('on SQLite hands one batch at a time to the writer, so the next one grows meanwhile', async () => {
      const batches: number[] = [];
      const committer = createGroupCommitter(store, { observe: (u) => batches.push(u) });
      const outcomes = await Promise.all(Array.from({ length: 5 }, () => committer.submit(claim())));
      assert.ok(outcomes.every((o) => o.ok));
      // the first goes at once; the rest form one batch while it commits (PostgreSQL: two in flight)
      // (PostgreSQL's two may finish in either order)
      assert.deepEqual(
        dialect === 'sqlite' ? batches : [...batches].sort(),
        dialect === 'sqlite' ? [1, 4] : [1, 1, 3],
      );
    });

    it('answers units that committed even if the metrics observer throws', async () => {
      const committer = createGroupCommitter(store, {
        observe: () => {
          throw new Error('observer broke');
        },
      });
      const unit = claim();
      assert.equal((await committer.submit(unit)).ok, true);
      // it was stored: the same jti again is refused
      const again = await committer.submit({ statements: unit.statements });
      assert.equal(again.ok, false);
    });

    it('drain writes lingering units without waiting for their linger to end', async () => {
      const committer = createGroupCommitter(store, { lingerMs: 600_000 });
      const unit = claim();
      let settled = false;
      const pending = committer.submit(unit, { linger: true }).then((o) => {
        settled = true;
        return o;
      });
      await committer.drain();
      assert.equal(settled, true);
      assert.equal((await pending).ok, true);
      // it is stored: claiming the same jti again is a replay
      const again = await committer.submit(unit);
      assert.deepEqual(again, { ok: false, code: 'replayed', statement: 0 });
    });
  });
}
