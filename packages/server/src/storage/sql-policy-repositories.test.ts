import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../test/support/databases.js';
import { CustosError, newId } from '../core/index.js';
import { openStore, type Store } from './index.js';

const T0 = Date.UTC(2026, 0, 1);

/** The policy tables' contract, on SQLite and PostgreSQL. */
for (const dialect of DIALECTS) {
  describe(`policy repositories (${dialect})`, () => {
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

    it('hands out each version exactly once to concurrent writers', async () => {
      const start = await store.policy.state.version();
      const versions = await Promise.all(
        Array.from({ length: 8 }, () =>
          store.transaction(async (tx) => {
            await tx.policy.state.read({ lock: true });
            return tx.policy.state.advance();
          }),
        ),
      );
      assert.deepEqual(
        [...versions].sort((a, b) => a - b),
        Array.from({ length: 8 }, (_, i) => start + i + 1),
      );
      assert.deepEqual(await store.policy.state.read(), { version: start + 8, shadow: false });
    });

    it('rebuilds a set as it was at any version from its revisions', async () => {
      const put = async (version: number, changes: Record<string, string | null>) =>
        store.transaction(async (tx) => {
          for (const [id, text] of Object.entries(changes)) {
            await tx.policy.policies.addRevision({ mode: 'enforce', id, version, text });
          }
        });
      await put(100, {
        a: 'permit (principal, action, resource);',
        b: 'forbid (principal, action, resource);',
      });
      await put(101, { a: 'permit (principal is Agent, action, resource);' });
      await put(102, { b: null });
      const at = async (v: number) =>
        (await store.policy.policies.at('enforce', v)).map((p) => `${p.id}=${p.text}`);
      assert.deepEqual(await at(99), []);
      assert.deepEqual(await at(100), [
        'a=permit (principal, action, resource);',
        'b=forbid (principal, action, resource);',
      ]);
      assert.deepEqual(await at(101), [
        'a=permit (principal is Agent, action, resource);',
        'b=forbid (principal, action, resource);',
      ]);
      assert.deepEqual(await at(102), ['a=permit (principal is Agent, action, resource);']);
      assert.deepEqual(
        (await store.policy.policies.revisions('b')).map((r) => [r.version, r.text === null]),
        [
          [100, false],
          [102, true],
        ],
      );
    });

    it('revokes a grant once (compare-and-set) and lists live grants by time', async () => {
      const grant = {
        id: newId('grt', T0),
        principalType: 'Team' as const,
        principalId: 'payments',
        action: 'tools/call',
        resourceType: 'McpServer',
        resourceId: 'github',
        resourceScope: 'in' as const,
        condition: null,
        expiresAt: T0 + 1000,
        createdAt: T0,
        createdBy: 'tok_x',
        reason: 'r',
        version: 1,
        revokedAt: null,
        revokedBy: null,
        revokeReason: null,
        revokedVersion: null,
      };
      await store.policy.grants.insert(grant);
      assert.equal((await store.policy.grants.list({ liveAt: T0, limit: 10 })).items.length, 1);
      assert.equal(
        (await store.policy.grants.list({ liveAt: T0 + 1000, limit: 10 })).items.length,
        0,
        'ended',
      );
      assert.equal(
        (await store.policy.grants.live()).length,
        1,
        'ended grants stay loaded; the engine skips them by time',
      );
      const fields = { at: T0 + 1, by: 'tok_x', reason: 'done', version: 2 };
      const revoked = await store.policy.grants.revoke(grant.id, fields);
      assert.equal(revoked?.revokedVersion, 2);
      assert.equal(await store.policy.grants.revoke(grant.id, fields), null);
      assert.deepEqual(await store.policy.grants.live(), []);
    });

    it('pages entities by type and id, and refuses a forged cursor', async () => {
      for (const id of ['c', 'a', 'b']) {
        await store.policy.entities.upsert({
          type: 'Doc',
          id,
          attrs: { n: id },
          parents: [],
          tags: {},
          updatedAt: T0,
        });
      }
      await store.policy.entities.upsert({
        type: 'Doc',
        id: 'a',
        attrs: { n: 'A' },
        parents: [{ type: 'Folder', id: 'f' }],
        tags: {},
        updatedAt: T0 + 1,
      });
      const first = await store.policy.entities.list({ type: 'Doc', limit: 2 });
      assert.deepEqual(
        first.items.map((e) => e.id),
        ['a', 'b'],
      );
      assert.deepEqual(first.items[0]?.parents, [{ type: 'Folder', id: 'f' }]);
      assert.ok(first.nextCursor);
      const second = await store.policy.entities.list({ type: 'Doc', limit: 2, cursor: first.nextCursor });
      assert.deepEqual(
        second.items.map((e) => e.id),
        ['c'],
      );
      assert.deepEqual(await store.policy.entities.idsOfType('Doc', 10), ['a', 'b', 'c']);
      await assert.rejects(
        store.policy.entities.list({ limit: 2, cursor: Buffer.from('nope').toString('base64url') }),
        (e: unknown) => e instanceof CustosError && e.code === 'validation_failed',
      );
      assert.equal(await store.policy.entities.delete('Doc', 'b'), true);
      assert.equal(await store.policy.entities.delete('Doc', 'b'), false);
    });
  });
}
