import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../test/support/databases.js';
import { readAllEvents, verifyChain } from '../audit/index.js';
import { newId } from '../core/index.js';
import {
  auditEventStatement,
  claimJtiStatement,
  migrateDatabase,
  openStore,
  type Store,
  UniqueViolation,
} from './index.js';
import type { AgentRecord, UserRecord } from './records.js';

const T0 = Date.UTC(2026, 0, 1);

function user(email: string, at = T0): UserRecord {
  return {
    id: newId('usr', at),
    email,
    name: email,
    status: 'active',
    managerId: null,
    createdAt: at,
    updatedAt: at,
  };
}

function agent(
  ownerId: string,
  name: string,
  extra: Partial<AgentRecord> = {},
): Omit<AgentRecord, 'ownerEmail'> {
  return {
    id: newId('agt', T0),
    name,
    ownerId,
    team: null,
    purpose: '',
    environment: 'default',
    tags: {},
    riskLevel: 'medium',
    status: 'active',
    statusReason: null,
    expiresAt: T0 + 86_400_000,
    allowedScopes: [],
    allowedAudiences: [],
    requireDpop: false,
    createdAt: T0,
    updatedAt: T0,
    ...extra,
  };
}

/** The one contract every Store adapter must meet; run against SQLite and PostgreSQL. */
for (const dialect of DIALECTS) {
  describe(`Store contract (${dialect})`, () => {
    let db: TestDatabase;
    let store: Store;
    let owner: UserRecord;

    before(async () => {
      db = await createTestDatabase(dialect);
      store = await openStore(db.url, { migrate: true, nowMs: T0 });
      owner = user('owner@example.com');
      await store.users.insert(owner);
    });
    after(async () => {
      await store.close();
      await db.drop();
    });

    it('reports its migrations as current, and migrating again changes nothing', async () => {
      const status = await store.migrationStatus();
      assert.ok(status.latest >= 1);
      assert.equal(status.applied, status.latest);
      assert.deepEqual(await migrateDatabase(db.url, T0), { from: status.latest, to: status.latest });
    });

    it('stores and returns text that looks like SQL or markup verbatim', async () => {
      const tricky = `Robert'); DROP TABLE agents;-- <script>alert("x")</script> 100% _under_ \\back\\ ünïcødé 🚀`;
      const a = agent(owner.id, tricky, { purpose: tricky, tags: { 'k:1': tricky } });
      await store.agents.insert(a);
      const read = await store.agents.get(a.id);
      assert.equal(read?.name, tricky);
      assert.equal(read?.purpose, tricky);
      assert.deepEqual(read?.tags, { 'k:1': tricky });
      assert.equal(read?.ownerEmail, owner.email);
      // LIKE wildcards in a search are literal: `%` matches only a real percent sign
      const byPercent = await store.agents.list({ limit: 10, q: '100% _under_' });
      assert.deepEqual(
        byPercent.items.map((x) => x.id),
        [a.id],
      );
      assert.equal((await store.agents.list({ limit: 10, q: '1_0%' })).items.length, 0);
    });

    it('keeps exactly one of many concurrent agents with the same name in an environment', async () => {
      const attempts = Array.from({ length: 8 }, () =>
        store.transaction((tx) => tx.agents.insert(agent(owner.id, 'racer', { environment: 'race' }))),
      );
      const results = await Promise.allSettled(attempts);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      assert.equal(won.length, 1);
      for (const r of lost) assert.ok((r as PromiseRejectedResult).reason instanceof UniqueViolation);
      assert.equal((await store.agents.list({ limit: 10, environment: 'race' })).items.length, 1);
    });

    it('frees a name once its agent is decommissioned, and allows the same name in another environment', async () => {
      const first = agent(owner.id, 'reused', { environment: 'prod' });
      await store.agents.insert(first);
      await store.agents.insert(agent(owner.id, 'reused', { environment: 'staging' }));
      await assert.rejects(
        store.agents.insert(agent(owner.id, 'reused', { environment: 'prod' })),
        UniqueViolation,
      );
      await store.agents.transition(first.id, ['active'], 'decommissioned', 'done', T0 + 1);
      await store.agents.insert(agent(owner.id, 'reused', { environment: 'prod' }));
      const prod = await store.agents.list({ limit: 10, environment: 'prod' });
      assert.deepEqual(prod.items.map((x) => x.status).sort(), ['active', 'decommissioned']);
    });

    it('lets exactly one of many concurrent transitions from the same status win', async () => {
      const a = agent(owner.id, 'cas');
      await store.agents.insert(a);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          store.transaction((tx) => tx.agents.transition(a.id, ['active'], 'suspended', `r${i}`, T0 + 5)),
        ),
      );
      assert.equal(results.filter((r) => r !== null).length, 1);
      assert.equal((await store.agents.get(a.id))?.status, 'suspended');
    });

    it('rolls back every write of a failed transaction', async () => {
      const u = user('rollback@example.com');
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.users.insert(u);
          await tx.audit.append({
            id: newId('evt', T0),
            at: T0,
            requestId: null,
            actorType: 'system',
            actorId: 'test',
            action: 'user.create',
            targetType: 'user',
            targetId: u.id,
            outcome: 'success',
            reason: null,
            details: {},
          });
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await store.users.get(u.id), null);
      assert.equal((await store.audit.list({ limit: 10, targetId: u.id })).items.length, 0);
    });

    it('sees committed writes from outside the transaction only after commit', async () => {
      const u = user('visibility@example.com');
      let seenInside: UserRecord | null = null;
      await store.transaction(async (tx) => {
        await tx.users.insert(u);
        assert.equal((await tx.users.get(u.id))?.email, u.email);
        seenInside = await store.users.get(u.id);
      });
      assert.equal(seenInside, null);
      assert.equal((await store.users.get(u.id))?.email, u.email);
    });

    it('enforces unique emails, team names and token hashes', async () => {
      await assert.rejects(store.users.insert(user('OWNER@example.com'.toLowerCase())), UniqueViolation);
      await store.teams.insert({ name: 'payments', description: '', createdAt: T0, updatedAt: T0 });
      await assert.rejects(
        store.teams.insert({ name: 'payments', description: 'x', createdAt: T0, updatedAt: T0 }),
        UniqueViolation,
      );
      const token = {
        id: newId('tok', T0),
        name: 't',
        tokenHash: 'ab'.repeat(32),
        role: 'admin' as const,
        userId: null,
        createdBy: 'test',
        createdAt: T0,
        expiresAt: T0 + 1000,
        revokedAt: null,
        lastUsedAt: null,
      };
      await store.adminTokens.insert(token);
      await assert.rejects(store.adminTokens.insert({ ...token, id: newId('tok', T0) }), UniqueViolation);
      assert.equal((await store.adminTokens.getByHash(token.tokenHash))?.id, token.id);
      assert.equal((await store.adminTokens.revoke(token.id, T0 + 1))?.revokedAt, T0 + 1);
      assert.equal(await store.adminTokens.revoke(token.id, T0 + 2), null);
    });

    it('filters agents by owner, team, status, environment, every tag and text, and pages with cursors', async () => {
      const other = user('other@example.com');
      await store.users.insert(other);
      await store.teams.insert({ name: 'search', description: '', createdAt: T0, updatedAt: T0 });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const a = agent(i % 2 ? other.id : owner.id, `finder-${i}`, {
          environment: 'search',
          team: i < 3 ? 'search' : null,
          tags: { tier: i < 4 ? 'gold' : 'silver', idx: String(i) },
          purpose: i === 2 ? 'Reads INVOICES' : '',
        });
        ids.push(a.id);
        await store.agents.insert(a);
      }
      const page = (f: Omit<Parameters<Store['agents']['list']>[0], 'limit'>) =>
        store.agents
          .list({ limit: 100, environment: 'search', ...f })
          .then((p) => p.items.map((a) => a.name));
      assert.deepEqual(await page({ ownerId: other.id }), ['finder-1', 'finder-3']);
      assert.deepEqual(await page({ team: 'search' }), ['finder-0', 'finder-1', 'finder-2']);
      assert.deepEqual(await page({ tags: { tier: 'gold', idx: '3' } }), ['finder-3']);
      assert.deepEqual(await page({ tags: { tier: 'silver' } }), ['finder-4']);
      assert.deepEqual(await page({ q: 'invoices' }), ['finder-2']);
      assert.deepEqual(await page({ status: 'suspended' }), []);

      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const p = await store.agents.list({ limit: 2, environment: 'search', cursor });
        assert.ok(p.items.length <= 2);
        seen.push(...p.items.map((a) => a.id));
        cursor = p.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(seen, ids);
      await assert.rejects(store.agents.list({ limit: 2, cursor: 'not a cursor!' }), /invalid cursor/);
    });

    it('updates agent fields and tags, and records status history in order', async () => {
      const a = agent(owner.id, 'updatable', { tags: { a: '1' } });
      await store.agents.insert(a);
      const updated = await store.agents.update(a.id, { purpose: 'new', tags: { b: '2' } }, T0 + 10);
      assert.equal(updated?.purpose, 'new');
      assert.deepEqual(updated?.tags, { b: '2' });
      assert.equal(updated?.updatedAt, T0 + 10);
      assert.equal(await store.agents.update(newId('agt', T0), { purpose: 'x' }, T0), null);
      await store.agents.addStatusChange({
        agentId: a.id,
        at: T0,
        fromStatus: null,
        toStatus: 'active',
        reason: 'created',
        actor: 'x',
      });
      await store.agents.addStatusChange({
        agentId: a.id,
        at: T0 + 1,
        fromStatus: 'active',
        toStatus: 'suspended',
        reason: 'r',
        actor: 'x',
      });
      const history = await store.agents.statusHistory(a.id);
      assert.deepEqual(
        history.map((h) => [h.fromStatus, h.toStatus]),
        [
          [null, 'active'],
          ['active', 'suspended'],
        ],
      );
    });

    it('announces committed changes to subscribers, and never rolled-back ones', async () => {
      const seen: string[] = [];
      const unsubscribe = store.changes.subscribe((c) => seen.push(`${c.topic}:${c.id}`));
      try {
        await store.transaction(async (tx) => {
          await tx.notify({ topic: 'agent', id: 'agt_committed' });
        });
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.notify({ topic: 'agent', id: 'agt_rolled_back' });
            throw new Error('boom');
          }),
        );
        // this process hears its own change at commit, before transaction() resolves
        assert.ok(seen.includes('agent:agt_committed'));
        if (dialect === 'postgres') {
          // a second process sharing the database hears it through LISTEN/NOTIFY
          const other = await openStore(db.url);
          try {
            const heard = new Promise<string>((resolve) =>
              other.changes.subscribe((c) => {
                if (c.id !== '*') resolve(`${c.topic}:${c.id}`);
              }),
            );
            await store.transaction((tx) => tx.notify({ topic: 'agent_key', id: 'agt_remote' }));
            const timeout = new Promise<string>((_, reject) =>
              setTimeout(() => reject(new Error('no notification within 1 s')), 1000).unref(),
            );
            assert.equal(await Promise.race([heard, timeout]), 'agent_key:agt_remote');
          } finally {
            await other.close();
          }
        }
        await new Promise((r) => setTimeout(r, 50));
        assert.ok(!seen.includes('agent:agt_rolled_back'));
      } finally {
        unsubscribe();
      }
    });

    it('keeps one verifying hash chain across concurrent transactions and group-commit batches', async () => {
      const input = (n: number) => ({
        id: newId('evt', T0),
        at: T0 + n,
        requestId: null,
        actorType: 'system',
        actorId: 'test',
        action: 'chain.test',
        targetType: null,
        targetId: null,
        outcome: 'success' as const,
        reason: null,
        details: { n },
      });
      await Promise.all([
        ...Array.from({ length: 10 }, (_, n) => store.transaction((tx) => tx.audit.append(input(n)))),
        ...Array.from({ length: 5 }, (_, n) =>
          store.writeBatch([
            { statements: [auditEventStatement(input(100 + n)), auditEventStatement(input(200 + n))] },
            // a failing unit takes its audit event back with it: no gap, no fork
            {
              statements: [
                auditEventStatement(input(300 + n)),
                claimJtiStatement('chain', 'same', T0 + 1000, 'replayed'),
                claimJtiStatement('chain', 'same', T0 + 1000, 'replayed'),
              ],
            },
          ]),
        ),
      ]);
      const report = await verifyChain(readAllEvents(store));
      assert.equal(report.ok, true, JSON.stringify(report));
      const seqs: number[] = [];
      for await (const e of readAllEvents(store)) seqs.push(e.seq);
      assert.deepEqual(
        seqs,
        Array.from({ length: seqs.length }, (_, i) => (seqs[0] as number) + i),
      );
    });

    it('keeps the chain verifying when an event carries text that is not well-formed Unicode', async () => {
      // e.g. a refusal's reason quoting a `kid` an unauthenticated caller chose: a lone surrogate
      // is stored as U+FFFD by both drivers, so the hash must cover what is stored
      const odd = (n: number) => ({
        id: newId('evt', T0),
        at: T0 + n,
        requestId: 'req_\ud800',
        actorType: 'anonymous',
        actorId: 'x\udfff',
        action: 'token.refuse',
        targetType: 'agent',
        targetId: 'agt_\udc00x',
        outcome: 'denied' as const,
        reason: `invalid_client: unknown key \`\ud83d\``,
        details: { kid: '\ud83d', n },
      });
      await store.audit.append(odd(1));
      await store.writeBatch([{ statements: [auditEventStatement(odd(2))] }]);
      const report = await verifyChain(readAllEvents(store));
      assert.equal(report.ok, true, JSON.stringify(report));
      const stored = [];
      for await (const e of readAllEvents(store)) if (e.action === 'token.refuse') stored.push(e);
      assert.equal(stored.length, 2);
      for (const e of stored) {
        assert.equal(e.reason, 'invalid_client: unknown key `\ufffd`');
        assert.equal(e.targetId, 'agt_\ufffdx');
        assert.equal(e.details.kid, '\ud83d', 'details keep the text exactly (JSON escapes it)');
      }
    });

    it('appends audit events with increasing sequence numbers and filters them', async () => {
      const seqs: number[] = [];
      for (let i = 0; i < 3; i++) {
        seqs.push(
          await store.audit.append({
            id: newId('evt', T0),
            at: T0 + i,
            requestId: `req_${i}`,
            actorType: 'admin_token',
            actorId: 'tok_x',
            action: i === 1 ? 'agent.suspend' : 'agent.update',
            targetType: 'agent',
            targetId: 'agt_audit',
            outcome: 'success',
            reason: null,
            details: { n: i, nested: { ok: true } },
          }),
        );
      }
      assert.ok((seqs[0] ?? 0) < (seqs[1] ?? 0) && (seqs[1] ?? 0) < (seqs[2] ?? 0));
      const events = await store.audit.list({ limit: 10, targetId: 'agt_audit' });
      assert.deepEqual(
        events.items.map((e) => e.details),
        [0, 1, 2].map((n) => ({ n, nested: { ok: true } })),
      );
      assert.equal(
        (await store.audit.list({ limit: 10, action: 'agent.suspend', targetId: 'agt_audit' })).items.length,
        1,
      );
    });
  });
}
