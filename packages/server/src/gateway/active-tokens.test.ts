import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Change, Store } from '../storage/index.js';
import { ActiveTokens } from './active-tokens.js';

const A = `agt_${'a'.repeat(26)}`;
const B = `agt_${'b'.repeat(26)}`;

/** The parts of a store the revocation check reads, in memory, with a change feed the test drives. */
function fakeStore() {
  const listeners = new Set<(change: Change) => void>();
  const agents = new Map([
    [A, { id: A, status: 'active', expiresAt: Number.MAX_SAFE_INTEGER }],
    [B, { id: B, status: 'active', expiresAt: Number.MAX_SAFE_INTEGER }],
  ]);
  const store = {
    changes: {
      healthy: () => true,
      subscribe: (listener: (change: Change) => void) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    issuedTokens: {
      get: async (jti: string) =>
        jti === 'child'
          ? {
              jti,
              agentId: B,
              credential: 'none:x',
              revokedAt: null,
              subject: 'usr_alice',
              consentId: 'cns_1',
            }
          : null,
    },
    agents: { get: async (id: string) => agents.get(id) ?? null },
    agentKeys: { get: async () => null },
    federatedIssuers: { list: async () => [] },
    users: { get: async (id: string) => ({ id, status: 'active' }) },
    consents: {
      get: async (id: string) => ({ id, revokedAt: null, expiresAt: Number.MAX_SAFE_INTEGER, tools: null }),
    },
  };
  return {
    store: store as unknown as Store,
    emit: (change: Change) => {
      for (const listener of listeners) listener(change);
    },
    suspend: (id: string) => {
      const agent = agents.get(id);
      if (agent) agent.status = 'suspended';
    },
  };
}

describe('active tokens (gateway revocation check)', () => {
  it('a delegated token stops when an earlier agent of its chain is suspended, even after a re-check without the chain', async () => {
    const { store, emit, suspend } = fakeStore();
    const active = new ActiveTokens({ store, clock: { now: () => 1_000 } });
    const drops: (string | null)[] = [];
    active.onDrop((agentId) => drops.push(agentId));
    assert.equal((await active.check('child', [A, B]))?.active, true);
    // the first agent changes in some harmless way (its tokens' answers are dropped)
    emit({ topic: 'agent', id: A });
    // some consent changes: delegated answers are dropped, and open streams re-checked by token id alone
    emit({ topic: 'token', id: 'consent:cns_other' });
    assert.equal((await active.check('child'))?.active, true);
    // the chain's first agent is suspended
    suspend(A);
    emit({ topic: 'agent', id: A });
    const state = await active.check('child', [A, B]);
    assert.equal(state?.active, false, 'the sub-agent’s token must stop with its chain');
    assert.match(String(state?.reason), /delegation chain is suspended/);
    assert.ok(drops.includes(B), 'the sub-agent’s open streams are re-checked too');
    active.close();
  });
});
