import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../../test/support/databases.js';
import type { Actor } from '../audit/index.js';
import { systemClock } from '../core/index.js';
import {
  createAgent,
  createUser,
  grantConsent,
  type IdentityDeps,
  revokeConsent,
  transitionAgent,
  updateAgent,
} from '../identity/index.js';
import { openStore, type Store } from '../storage/index.js';
import { ActiveTokens } from './active-tokens.js';

const ADMIN: Actor = { type: 'system', id: 'test', role: 'admin', userId: null, requestId: null };
const DAY = 86_400_000;

describe('active tokens (gateway revocation check) over a real store', () => {
  let db: TestDatabase;
  let store: Store;
  let deps: IdentityDeps;
  before(async () => {
    db = await createTestDatabase('sqlite');
    store = await openStore(db.url, { migrate: true });
    deps = {
      store,
      clock: systemClock,
      settings: { agentDefaultTtlMs: 30 * DAY, adminTokenDefaultTtlMs: DAY },
    };
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  it('a delegated token stops when an earlier agent of its chain is suspended, even after a re-check without the chain', async () => {
    const alice = await createUser(deps, ADMIN, { email: 'alice@example.com', name: 'Alice' });
    const a = await createAgent(deps, ADMIN, { name: 'first', owner: alice.id });
    const b = await createAgent(deps, ADMIN, { name: 'second', owner: alice.id });
    const consent = await grantConsent(deps, ADMIN, {
      user: alice.id,
      agent: a.id,
      scopes: ['read'],
      expiresAt: Date.now() + DAY,
    });
    const other = await grantConsent(deps, ADMIN, {
      user: alice.id,
      agent: b.id,
      scopes: ['read'],
      expiresAt: Date.now() + DAY,
    });
    const now = Date.now();
    await store.issuedTokens.insert({
      jti: 'child-token',
      agentId: b.id,
      credential: 'none:test',
      issuedAt: now,
      expiresAt: now + 300_000,
      revokedAt: null,
      subject: alice.id,
      consentId: consent.id,
    });
    const active = new ActiveTokens({ store, clock: systemClock });
    const drops: (string | null)[] = [];
    active.onDrop((agentId) => drops.push(agentId));
    try {
      assert.equal((await active.check('child-token', [a.id, b.id]))?.active, true);
      // the first agent changes in a harmless way (answers about it are dropped)
      await updateAgent(deps, ADMIN, a.id, { purpose: 'still fine' });
      // another consent changes: delegated answers are dropped, and open streams re-checked by token id alone
      await revokeConsent(deps, ADMIN, other.id);
      assert.equal((await active.check('child-token'))?.active, true);
      // the chain's first agent is suspended
      await transitionAgent(deps, ADMIN, a.id, 'suspend', 'test');
      const state = await active.check('child-token', [a.id, b.id]);
      assert.equal(state?.active, false, 'the sub-agent’s token must stop with its chain');
      assert.match(String(state?.reason), /delegation chain is suspended/);
      assert.ok(drops.includes(b.id), 'the sub-agent’s open streams are re-checked too');
    } finally {
      active.close();
    }
  });
});
