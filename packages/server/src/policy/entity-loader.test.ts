import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../test/support/databases.js';
import { agentRecord, userRecord } from '../../test/support/records.js';
import { newId } from '../core/index.js';
import { openStore, type Store } from '../storage/index.js';
import { EntityLoader } from './entity-loader.js';
import { uidKey } from './entity-uid.js';

const T0 = Date.UTC(2026, 0, 1);

for (const dialect of DIALECTS) {
  describe(`entity loader (${dialect})`, () => {
    let db: TestDatabase;
    let store: Store;
    const agentId = newId('agt', T0);
    const ownerId = newId('usr', T0);
    const managerId = newId('usr', T0 + 1);

    before(async () => {
      db = await createTestDatabase(dialect);
      store = await openStore(db.url, { migrate: true });
      await store.users.insert(userRecord('m@example.com', T0, { id: managerId }));
      await store.users.insert(userRecord('o@example.com', T0, { id: ownerId, managerId }));
      await store.teams.insert({ name: 'payments', description: '', createdAt: T0, updatedAt: T0 });
      await store.agents.insert(
        agentRecord(ownerId, T0, { id: agentId, team: 'payments', allowedScopes: ['read'] }),
      );
      // a document in a folder in a folder, whose attribute refers to a person
      await store.transaction(async (tx) => {
        const entity = (type: string, id: string, attrs: Record<string, unknown>, parent?: string) =>
          tx.policy.entities.upsert({
            type,
            id,
            attrs,
            parents: parent ? [{ type: 'Folder', id: parent }] : [],
            tags: {},
            updatedAt: T0,
          });
        await entity('Doc', 'd1', { author: { __entity: { type: 'Person', id: 'ann' } } }, 'f1');
        await entity('Folder', 'f1', {}, 'root');
        await entity('Folder', 'root', {});
        await entity('Person', 'ann', { clearance: 3 });
      });
    });
    after(async () => {
      await store.close();
      await db.drop();
    });

    const roots = [
      { uid: { type: 'Agent', id: agentId }, overlay: null },
      { uid: { type: 'Doc', id: 'd1' }, overlay: { extra: true } },
    ];
    const keys = (entities: readonly { uid: unknown }[]) =>
      entities.map((e) => uidKey(e.uid as { type: string; id: string })).sort();

    it('gathers the same entities cold (read on the way) as warm (from the cache)', async () => {
      const loader = new EntityLoader(store);
      const cold = await loader.gather(roots);
      assert.deepEqual(
        keys(cold.entities),
        [
          uidKey({ type: 'Agent', id: agentId }),
          uidKey({ type: 'Doc', id: 'd1' }),
          uidKey({ type: 'Folder', id: 'f1' }),
          uidKey({ type: 'Folder', id: 'root' }),
          uidKey({ type: 'Person', id: 'ann' }),
          uidKey({ type: 'Team', id: 'payments' }),
          uidKey({ type: 'User', id: ownerId }),
        ].sort(),
        'parents, their parents, and what attributes refer to (one hop)',
      );
      assert.deepEqual(
        cold.ancestors.map((a) => a.map(uidKey)),
        [
          [uidKey({ type: 'Team', id: 'payments' })],
          [uidKey({ type: 'Folder', id: 'f1' }), uidKey({ type: 'Folder', id: 'root' })],
        ],
      );
      assert.equal(cold.loaded[0]?.agent?.status, 'active');
      const doc = cold.entities.find((e) => uidKey(e.uid as { type: string; id: string }).includes('Doc'));
      assert.deepEqual(doc?.attrs, { author: { __entity: { type: 'Person', id: 'ann' } }, extra: true });

      const warm = await loader.gather(roots);
      assert.deepEqual(warm, cold);
      // a second loader, cold again, agrees
      assert.deepEqual(await new EntityLoader(store).gather(roots), cold);
    });

    it('reads what a level of the graph misses in one go, not one pass per entity', async () => {
      const loader = new EntityLoader(store);
      let passes = 0;
      const inner = loader as unknown as { gatherFrom: (...args: unknown[]) => unknown };
      const original = inner.gatherFrom.bind(loader);
      inner.gatherFrom = (...args: unknown[]) => {
        passes++;
        return original(...args);
      };
      // a resource whose attributes name 300 people who do not exist (never cached as absent)
      const absent = Array.from({ length: 300 }, (_, i) => ({
        __entity: { type: 'User', id: newId('usr', T0 + 100 + i) },
      }));
      const gathered = await loader.gather([
        { uid: { type: 'Agent', id: agentId }, overlay: null },
        { uid: { type: 'Doc', id: 'd1' }, overlay: { reviewers: absent } },
      ]);
      assert.equal(gathered.entities.length, 7, 'the absent people add nothing');
      // cold: the roots; then their parents and references; then the folders' parent
      assert.ok(passes <= 4, `${passes} passes`);
    });

    it('answers for a root that does not exist, with only its overlay', async () => {
      const loader = new EntityLoader(store);
      const gathered = await loader.gather([
        { uid: { type: 'Agent', id: newId('agt', T0 + 5) }, overlay: null },
        { uid: { type: 'Doc', id: 'nowhere' }, overlay: { n: 1 } },
      ]);
      assert.deepEqual(gathered.loaded, [null, null]);
      assert.deepEqual(
        gathered.entities.map((e) => e.attrs),
        [{}, { n: 1 }],
      );
    });
  });
}
