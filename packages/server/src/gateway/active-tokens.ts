import type { Clock } from '../core/index.js';
import type { Change, Store } from '../storage/index.js';

/** What the revocation check found for one token. */
export interface TokenState {
  readonly active: boolean;
  readonly agentId: string;
  /** Why it is not active (for the refusal message). */
  readonly reason: string | null;
  /** The agent's own expiry: past it the token stops working even while cached. */
  readonly agentExpiresAt: number;
}

const MAX_ENTRIES = 50_000;

/**
 * The gateway's revocation check: whether a token Custos issued is still
 * active (not revoked; its agent active and unexpired; the key or federated
 * issuer it was obtained with still standing), the same rule as
 * `verifyIssuedToken`, without a database read per call.
 *
 * Answers are cached per token and dropped by the store's change feed the
 * moment a change commits anywhere: a token's revocation drops that token, a
 * change of an agent or of its keys drops every token of that agent, a
 * federation change or a feed reset drops everything. On PostgreSQL the feed is
 * `LISTEN/NOTIFY`, so every node refuses a revoked token on its next request,
 * well within a second. While the feed is unhealthy every check reads the store.
 *
 * INVARIANT: an answer is cached only if no change arrived while it was read,
 * so a read racing a revocation never resurrects an active answer.
 */
export class ActiveTokens {
  private readonly entries = new Map<string, TokenState>();
  private readonly byAgent = new Map<string, Set<string>>();
  private generation = 0;
  private readonly unsubscribe: () => void;
  private readonly listeners = new Set<(agentId: string | null) => void>();

  constructor(private readonly deps: { readonly store: Store; readonly clock: Clock }) {
    this.unsubscribe = deps.store.changes.subscribe((change) => this.drop(change));
  }

  close(): void {
    this.unsubscribe();
  }

  /** Called after entries were dropped (null: all of them), so open streams can be re-checked. */
  onDrop(listener: (agentId: string | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private drop(change: Change): void {
    this.generation++;
    let agent: string | null | undefined;
    if (change.id === '*' || change.topic === 'federation') {
      this.entries.clear();
      this.byAgent.clear();
      agent = null;
    } else if (change.topic === 'token') {
      const entry = this.entries.get(change.id);
      this.entries.delete(change.id);
      agent = entry?.agentId;
    } else if (change.topic === 'agent' || change.topic === 'agent_key') {
      for (const jti of this.byAgent.get(change.id) ?? []) this.entries.delete(jti);
      this.byAgent.delete(change.id);
      agent = change.id;
    }
    if (agent !== undefined) for (const listener of this.listeners) listener(agent);
  }

  /** The state of token `jti` right now (null: Custos has no record of it). */
  async check(jti: string): Promise<TokenState | null> {
    const healthy = this.deps.store.changes.healthy();
    let state = healthy ? this.entries.get(jti) : undefined;
    if (!state) {
      const generation = this.generation;
      const loaded = await this.load(jti);
      if (!loaded) return null;
      state = loaded;
      if (healthy && generation === this.generation && this.deps.store.changes.healthy()) {
        if (this.entries.size >= MAX_ENTRIES) {
          this.entries.clear();
          this.byAgent.clear();
        }
        this.entries.set(jti, state);
        const set = this.byAgent.get(state.agentId) ?? new Set<string>();
        set.add(jti);
        this.byAgent.set(state.agentId, set);
      }
    }
    if (state.active && state.agentExpiresAt <= this.deps.clock.now()) {
      return { ...state, active: false, reason: 'the agent has expired' };
    }
    return state;
  }

  private async load(jti: string): Promise<TokenState | null> {
    const { store } = this.deps;
    const record = await store.issuedTokens.get(jti);
    if (!record) return null;
    const inactive = (reason: string): TokenState => ({
      active: false,
      agentId: record.agentId,
      reason,
      agentExpiresAt: 0,
    });
    if (record.revokedAt !== null) return inactive('the token has been revoked');
    const agent = await store.agents.get(record.agentId, { tags: false });
    if (!agent) return inactive('the agent no longer exists');
    if (agent.status !== 'active') return inactive(`the agent is ${agent.status}`);
    const [kind, ref] = record.credential.split(/:(.*)/s) as [string, string];
    if (kind === 'key') {
      const key = await store.agentKeys.get(record.agentId, ref);
      if (!key || key.revokedAt !== null)
        return inactive('the key the token was obtained with has been revoked');
    } else if (kind === 'federation') {
      const issuers = await store.federatedIssuers.list();
      if (!issuers.some((i) => i.id === ref)) return inactive('the federated issuer is no longer trusted');
    }
    return { active: true, agentId: agent.id, reason: null, agentExpiresAt: agent.expiresAt };
  }
}
