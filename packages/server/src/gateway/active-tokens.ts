import type { Clock } from '../core/index.js';
import { tokenStanding } from '../oauth/index.js';
import type { Change, Store } from '../storage/index.js';

/** What the revocation check found for one token. */
export interface TokenState {
  readonly active: boolean;
  readonly agentId: string;
  /** Why it is not active (for the refusal message). */
  readonly reason: string | null;
  /** The agent's own expiry (for a delegated token, also every chain agent's and the consent's): past it the token stops working even while cached. */
  readonly agentExpiresAt: number;
  /** The person a delegated token acts for, and the consent it derives from (null otherwise). */
  readonly subject: string | null;
  readonly consentId: string | null;
  /** The tools the consent limits a delegated token to (`server/tool`, `server/*`); null: not limited. */
  readonly consentTools: readonly string[] | null;
  /** The monitor restricted the agent (`require_approval`): every call needs its owner's approval. */
  readonly restricted: boolean;
}

const MAX_ENTRIES = 50_000;

/**
 * The gateway's revocation check: whether a token Custos issued is still
 * active — `tokenStanding`, the rule `verifyIssuedToken` applies too — without
 * a database read per call.
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
  /** Delegated tokens: dropped when any person or consent changes (both are rare). */
  private readonly delegated = new Set<string>();
  /**
   * The chain of each delegated token, as its verified `act` claim names it:
   * a check by token id alone (an open stream's re-check) must still check,
   * and index, every agent of the chain.
   */
  private readonly chains = new Map<string, readonly string[]>();
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
    const others = new Set<string>();
    if (change.id === '*' || change.topic === 'federation') {
      this.entries.clear();
      this.byAgent.clear();
      this.delegated.clear();
      agent = null;
    } else if (
      (change.topic === 'token' && change.id.startsWith('consent:')) ||
      (change.topic === 'policy' && change.id.startsWith('entity:User::'))
    ) {
      for (const jti of this.delegated) this.entries.delete(jti);
      this.delegated.clear();
      agent = null;
    } else if (change.topic === 'token') {
      const entry = this.entries.get(change.id);
      this.entries.delete(change.id);
      agent = entry?.agentId;
    } else if (change.topic === 'agent' || change.topic === 'agent_key') {
      for (const jti of this.byAgent.get(change.id) ?? []) {
        this.entries.delete(jti);
        // a delegated token of a later agent of the chain: that agent's streams are re-checked too
        const holder = this.chains.get(jti)?.at(-1);
        if (holder !== undefined && holder !== change.id) others.add(holder);
      }
      this.byAgent.delete(change.id);
      agent = change.id;
    }
    if (agent !== undefined) for (const listener of this.listeners) listener(agent);
    for (const other of others) for (const listener of this.listeners) listener(other);
  }

  /**
   * The state of token `jti` right now (null: Custos has no record of it).
   * `chain`: the agents of a delegated token's (signed) `act` claim; each must
   * still be active, as must the person and the consent. Without it (a
   * re-check by token id), the chain last seen with the token is used; a
   * delegated token whose chain is not known here is answered inactive, and
   * such an answer is not cached.
   */
  async check(jti: string, chain?: readonly string[]): Promise<TokenState | null> {
    if (chain !== undefined && chain.length > 0) {
      if (this.chains.size >= MAX_ENTRIES) this.chains.clear();
      this.chains.set(jti, chain);
    }
    const known = chain ?? this.chains.get(jti);
    const healthy = this.deps.store.changes.healthy();
    let state = healthy ? this.entries.get(jti) : undefined;
    if (!state) {
      const generation = this.generation;
      const loaded = await this.load(jti, known ?? null);
      if (!loaded) return null;
      state = loaded;
      if (
        known !== undefined &&
        healthy &&
        generation === this.generation &&
        this.deps.store.changes.healthy()
      ) {
        if (this.entries.size >= MAX_ENTRIES) {
          this.entries.clear();
          this.byAgent.clear();
          this.delegated.clear();
        }
        this.entries.set(jti, state);
        for (const agentId of new Set([state.agentId, ...known])) {
          const set = this.byAgent.get(agentId) ?? new Set<string>();
          set.add(jti);
          this.byAgent.set(agentId, set);
        }
        if (state.subject !== null) this.delegated.add(jti);
      }
    }
    if (state.active && state.agentExpiresAt <= this.deps.clock.now()) {
      return {
        ...state,
        active: false,
        reason: state.subject === null ? 'the agent has expired' : 'the agent or the consent has expired',
      };
    }
    return state;
  }

  private async load(jti: string, chain: readonly string[] | null): Promise<TokenState | null> {
    const { store } = this.deps;
    const record = await store.issuedTokens.get(jti);
    if (!record) return null;
    const subject = record.subject ?? null;
    const consentId = record.consentId ?? null;
    const standing = await tokenStanding(store, record, chain);
    if (!standing.ok) {
      return {
        active: false,
        agentId: record.agentId,
        reason: standing.reason,
        agentExpiresAt: 0,
        subject,
        consentId,
        consentTools: null,
        restricted: false,
      };
    }
    return {
      active: true,
      agentId: standing.agent.id,
      reason: null,
      agentExpiresAt: standing.validUntil,
      subject,
      consentId,
      consentTools: standing.consent?.tools ?? null,
      // a restriction's change is announced on the agent's topic, which drops this answer
      restricted: (await store.monitor.restrictions.get(standing.agent.id)) !== null,
    };
  }
}
