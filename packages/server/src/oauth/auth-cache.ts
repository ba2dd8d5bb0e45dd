import type { AgentKeyRecord, AgentRecord, Change, Store } from '../storage/index.js';

const MAX_ENTRIES = 20_000;

/**
 * What the token endpoint reads for every grant (the agent, and the key its
 * assertion names), cached in memory and dropped the moment a change is
 * committed anywhere (the store's change feed). While the feed is unhealthy
 * (lost its database connection), every read goes to the store.
 *
 * INVARIANT: an entry is stored only if no change of its kind arrived while it
 * was being read, so a read racing an invalidation never resurrects old data.
 */
export class AuthCache {
  private readonly agents = new Map<string, AgentRecord>();
  private readonly keys = new Map<string, AgentKeyRecord>();
  private generation = 0;

  constructor(private readonly store: Store) {
    store.changes.subscribe((change) => this.drop(change));
  }

  private drop(change: Change): void {
    this.generation++;
    if (change.id === '*') {
      this.agents.clear();
      this.keys.clear();
    } else if (change.topic === 'agent') {
      this.agents.delete(change.id);
    } else if (change.topic === 'agent_key') {
      for (const key of this.keys.keys()) if (key.startsWith(`${change.id} `)) this.keys.delete(key);
    }
  }

  private async read<T>(
    cache: Map<string, T>,
    key: string,
    load: () => Promise<T | null>,
  ): Promise<T | null> {
    if (!this.store.changes.healthy()) return load();
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const generation = this.generation;
    const value = await load();
    if (value !== null && generation === this.generation && this.store.changes.healthy()) {
      if (cache.size >= MAX_ENTRIES) cache.clear();
      cache.set(key, value);
    }
    return value;
  }

  /** The agent (without tags), or null. */
  agent(id: string): Promise<AgentRecord | null> {
    return this.read(this.agents, id, () => this.store.agents.get(id, { tags: false }));
  }

  /** One of the agent's keys by kid, revoked and expired ones included, or null. */
  agentKey(agentId: string, kid: string): Promise<AgentKeyRecord | null> {
    return this.read(this.keys, `${agentId} ${kid}`, () => this.store.agentKeys.get(agentId, kid));
  }
}
