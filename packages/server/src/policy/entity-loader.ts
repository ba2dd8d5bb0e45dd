import type { AgentRecord, Change, Store, UserRecord } from '../storage/index.js';
import type { EntityJson } from './cedar.js';
import { entityRefsIn } from './cedar-values.js';
import { sealEntity } from './decision-memo.js';
import { type EntityUid, entityRef, uidKey } from './entity-uid.js';

/** A loaded entity, with what the engine needs to know of an agent beyond Cedar. */
export interface LoadedEntity {
  readonly json: EntityJson;
  /** For agents: whether the stored agent may act at all (status, expiry). */
  readonly agent?: { readonly status: AgentRecord['status']; readonly expiresAt: number };
}

const MAX_ENTITIES = 64;

/** A request's principal or resource, with the attributes the request overlays on it. */
interface Root {
  readonly uid: EntityUid;
  readonly overlay: EntityJson['attrs'] | null;
}

/** What a decision is given: the entities, each root as loaded, and each root's ancestors. */
interface Gathered {
  readonly entities: EntityJson[];
  readonly loaded: (LoadedEntity | null)[];
  readonly ancestors: EntityUid[][];
}
const MAX_CACHED = 50_000;

/** The Cedar entity of an agent of the inventory, with its attributes, team and tags. */
export function agentEntity(a: AgentRecord): LoadedEntity {
  return {
    json: {
      uid: { type: 'Agent', id: a.id },
      attrs: {
        name: a.name,
        owner: entityRef({ type: 'User', id: a.ownerId }),
        ...(a.team ? { team: entityRef({ type: 'Team', id: a.team }) } : {}),
        status: a.status,
        environment: a.environment,
        riskLevel: a.riskLevel,
        purpose: a.purpose,
        expiresAt: { __extn: { fn: 'datetime', arg: new Date(a.expiresAt).toISOString() } },
        allowedScopes: a.allowedScopes.map((id) => entityRef({ type: 'Scope', id })),
        allowedAudiences: a.allowedAudiences.map((id) => entityRef({ type: 'Audience', id })),
      },
      parents: a.team ? [{ type: 'Team', id: a.team }] : [],
      tags: { ...a.tags },
    },
    agent: { status: a.status, expiresAt: a.expiresAt },
  };
}

/** The Cedar entity of a human of the inventory. */
export function userEntity(u: UserRecord): LoadedEntity {
  return {
    json: {
      uid: { type: 'User', id: u.id },
      attrs: {
        email: u.email,
        name: u.name,
        status: u.status,
        ...(u.managerId ? { manager: entityRef({ type: 'User', id: u.managerId }) } : {}),
      },
      parents: [],
    },
  };
}

/**
 * Loads the entities decisions need, from the inventory (agents, users, teams)
 * and the admin's stored entities, with an in-memory cache.
 *
 * The cache is dropped by the store's change feed: an agent's entry when that
 * agent changes, a user's or an admin entity's when it changes, everything on
 * a feed reset. While the feed is unhealthy (lost its database connection) the
 * cache is bypassed. INVARIANT: an entry is stored only if no change arrived
 * while it was being read, so a read racing an invalidation never resurrects
 * old data. Inventory entities are never cached as absent (creating an agent
 * or user announces nothing); admin entities are, as their every change is announced.
 */
export class EntityLoader {
  private readonly cache = new Map<string, LoadedEntity | null>();
  private generation = 0;

  constructor(private readonly store: Store) {}

  /** Drops what `change` may have made stale; called by the engine for every change. */
  drop(change: Change): void {
    this.generation++;
    if (change.id === '*') this.cache.clear();
    else if (change.topic === 'agent') this.cache.delete(uidKey({ type: 'Agent', id: change.id }));
    else if (change.topic === 'policy' && change.id.startsWith('entity:')) {
      const key = change.id.slice('entity:'.length);
      if (key === '*') this.cache.clear();
      else this.cache.delete(key);
    }
  }

  private async read(uid: EntityUid): Promise<LoadedEntity | null> {
    switch (uid.type) {
      case 'Agent': {
        const agent = await this.store.agents.get(uid.id);
        return agent ? agentEntity(agent) : null;
      }
      case 'User': {
        const user = await this.store.users.get(uid.id);
        return user ? userEntity(user) : null;
      }
      case 'Team':
        // teams are grouping nodes with no attributes: nothing to read
        return { json: { uid: { type: 'Team', id: uid.id }, attrs: {}, parents: [] } };
      default: {
        const e = await this.store.policy.entities.get(uid.type, uid.id);
        if (!e) return null;
        return {
          json: {
            uid: { type: e.type, id: e.id },
            attrs: e.attrs as EntityJson['attrs'],
            parents: e.parents.map((p) => ({ type: p.type, id: p.id })),
            tags: e.tags as NonNullable<EntityJson['tags']>,
          },
        };
      }
    }
  }

  /** The cached entity (null: known absent), or undefined on a miss or while the feed is unhealthy. */
  private cached(key: string): LoadedEntity | null | undefined {
    if (!this.store.changes.healthy()) return undefined;
    return this.cache.get(key);
  }

  /** One entity, or null when nothing of that uid exists. */
  async get(uid: EntityUid): Promise<LoadedEntity | null> {
    const key = uidKey(uid);
    const healthy = this.store.changes.healthy();
    if (healthy && this.cache.has(key)) return this.cache.get(key) ?? null;
    const generation = this.generation;
    const loaded = await this.read(uid);
    const cacheable = loaded !== null || !['Agent', 'User', 'Team'].includes(uid.type);
    if (cacheable && healthy && generation === this.generation && this.store.changes.healthy()) {
      // sealed: the same object goes to every decision until the entity changes, so
      // the memo keys it by that object. One read for a single decision stays
      // unsealed and is keyed by its text, which later reads of it can share.
      if (loaded) sealEntity(loaded.json);
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(key, loaded);
    }
    return loaded;
  }

  /**
   * The entities a request needs: `roots` (principal and resource, each possibly
   * overlaid), everything they are in (transitively), and the entities their
   * attributes refer to (one hop, with what those are in). Returns the ancestors
   * of each root too, for the policy index. At most 64 entities.
   *
   * Usually every entity is cached and one synchronous pass answers. Otherwise
   * the pass notes every entity it reaches but does not hold, those are read
   * (and cached when they may be), and the pass starts again with them: one
   * pass per level of the graph that was not cached (a cold request takes a
   * few), never one per entity (a request naming thousands of absent users
   * would otherwise take a pass for each), and no promise per step when warm.
   */
  async gather(roots: readonly Root[]): Promise<Gathered> {
    const fetched = new Map<string, LoadedEntity | null>();
    for (;;) {
      const pass = this.gatherFrom(roots, fetched);
      if (!('missing' in pass)) return pass;
      for (const [key, uid] of pass.missing) fetched.set(key, await this.get(uid));
    }
  }

  /**
   * One pass over what is cached or `fetched`. When it reaches entities that
   * neither holds, it answers those instead (every one it reached), and the
   * caller reads them and passes again.
   */
  private gatherFrom(
    roots: readonly Root[],
    fetched: ReadonlyMap<string, LoadedEntity | null>,
  ): Gathered | { readonly missing: ReadonlyMap<string, EntityUid> } {
    const byKey = new Map<string, EntityJson>();
    const loaded: (LoadedEntity | null)[] = [];
    const ancestors: EntityUid[][] = [];
    const missing = new Map<string, EntityUid>();
    /** The entity of `key`, null when there is none, undefined when it must be read first. */
    const held = (key: string): LoadedEntity | null | undefined =>
      fetched.has(key) ? (fetched.get(key) ?? null) : this.cached(key);
    const parentsOf = (json: EntityJson): EntityUid[] =>
      json.parents.map((p) => ('__entity' in p ? p.__entity : p));
    const closure = (start: readonly EntityUid[]): EntityUid[] => {
      const visited = new Set<string>();
      const found: EntityUid[] = [];
      const queue = [...start];
      while (queue.length > 0) {
        const uid = queue.shift() as EntityUid;
        const key = uidKey(uid);
        if (visited.has(key)) continue;
        visited.add(key);
        found.push(uid);
        let json = byKey.get(key);
        if (!json) {
          if (byKey.size >= MAX_ENTITIES) continue;
          const entity = held(key);
          if (entity === undefined) {
            missing.set(key, uid); // read before the next pass, which goes on from it
            continue;
          }
          if (!entity) continue;
          json = entity.json;
          byKey.set(key, json);
        }
        queue.push(...parentsOf(json));
      }
      return found;
    };
    for (const root of roots) {
      const key = uidKey(root.uid);
      const stored = held(key);
      if (stored === undefined) {
        missing.set(key, root.uid);
        continue;
      }
      loaded.push(stored);
      const json: EntityJson = stored
        ? root.overlay
          ? { ...stored.json, attrs: { ...stored.json.attrs, ...root.overlay } }
          : stored.json
        : { uid: { type: root.uid.type, id: root.uid.id }, attrs: root.overlay ?? {}, parents: [] };
      byKey.set(key, json);
      ancestors.push(closure(parentsOf(json)));
    }
    for (const root of roots) {
      const json = byKey.get(uidKey(root.uid));
      if (json) closure(entityRefsIn(json.attrs));
    }
    if (missing.size > 0) return { missing };
    return { entities: [...byKey.values()], loaded, ancestors };
  }
}
