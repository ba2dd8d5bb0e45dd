import { cedar, errorText, type PolicySet } from './cedar.js';
import { type ContextUse, contextUseOf } from './context-use.js';
import type { EntityUid } from './entity-uid.js';
import { keyEntity, type ScopeKey } from './policy-scope.js';

/** A static policy (the admin's set, or the platform's). */
export interface StaticMember {
  readonly kind: 'static';
  readonly id: string;
  readonly text: string;
  readonly effect: 'permit' | 'forbid';
  readonly principalKey: ScopeKey;
  readonly resourceKey: ScopeKey;
  readonly expiresAt: null;
}

/** A template-linked policy (a grant); it stops applying at `expiresAt`. */
export interface LinkMember {
  readonly kind: 'link';
  readonly id: string;
  readonly templateId: string;
  readonly templateText: string;
  readonly principal: EntityUid;
  readonly resource: EntityUid;
  readonly effect: 'permit';
  readonly principalKey: ScopeKey;
  readonly resourceKey: ScopeKey;
  readonly expiresAt: number | null;
}

export type Member = StaticMember | LinkMember;

interface Bucket {
  readonly id: number;
  readonly members: Member[];
}

/** The Cedar policy set of some members. */
export function toPolicySet(members: readonly Member[]): PolicySet {
  const staticPolicies: Record<string, string> = {};
  const templates: Record<string, string> = {};
  const templateLinks: NonNullable<PolicySet['templateLinks']> = [];
  for (const m of members) {
    if (m.kind === 'static') staticPolicies[m.id] = m.text;
    else {
      templates[m.templateId] = m.templateText;
      templateLinks.push({
        templateId: m.templateId,
        newId: m.id,
        values: {
          '?principal': { type: m.principal.type, id: m.principal.id },
          '?resource': { type: m.resource.type, id: m.resource.id },
        },
      });
    }
  }
  return { staticPolicies, templates, templateLinks };
}

/**
 * Cedar keeps pre-parsed policy sets in wasm memory under an id, with no way to
 * free one but to overwrite it. This pool hands out a bounded number of ids
 * (least recently used first), so memory stays bounded however many
 * combinations of policies decisions need.
 *
 * INVARIANT: a slot is looked up, (re)parsed and evaluated in one synchronous
 * run of the event loop, so no other decision can overwrite it in between.
 */
// Cedar's pre-parsed sets live in one table per process: slot ids are unique
// across every pool (several engines may share a process: tests, two nodes).
let slots = 0;
// INVARIANT: every parse of a set into a slot gets a new build number, never
// reused, so what was computed on one build cannot be taken for another.
let builds = 0;

/** A pre-parsed set: its Cedar slot, how many policies it holds, its build number, and what of `context` it reads. */
export interface PreparsedSlot {
  readonly slot: string;
  readonly count: number;
  readonly build: number;
  readonly contextUse: ContextUse;
}

export class PreparsedPool {
  private readonly entries = new Map<
    string,
    PreparsedSlot & { readonly key: string; readonly validUntil: number }
  >();

  constructor(private readonly capacity = 2048) {}

  /**
   * The slot holding the policy set for `key`, parsing it with `build` when
   * missing or when a member has expired since (`now >= validUntil`). Null
   * when the set is empty (nothing applies: the caller denies without Cedar).
   */
  acquire(
    key: string,
    now: number,
    build: () => { set: PolicySet; count: number; validUntil: number; contextUse: ContextUse },
  ): PreparsedSlot | null {
    const hit = this.entries.get(key);
    if (hit && now < hit.validUntil) {
      // re-inserted under the key string it was stored with: the one built for this lookup dies young
      this.entries.delete(hit.key);
      this.entries.set(hit.key, hit);
      return hit.count === 0 ? null : hit;
    }
    const built = build();
    let slot = hit?.slot;
    if (hit) this.entries.delete(key);
    else if (this.entries.size >= this.capacity) {
      const [oldest, entry] = this.entries.entries().next().value as [string, { slot: string }];
      this.entries.delete(oldest);
      slot = entry.slot;
    }
    slot ??= `custos-${slots++}`;
    if (built.count > 0) {
      const answer = cedar.preparsePolicySet(slot, built.set);
      if (answer.type === 'failure') {
        throw new Error(`policy set failed to load: ${answer.errors.map(errorText).join('; ')}`);
      }
    }
    const entry = {
      key,
      slot,
      validUntil: built.validUntil,
      count: built.count,
      build: ++builds,
      contextUse: built.contextUse,
    };
    this.entries.set(key, entry);
    return built.count === 0 ? null : entry;
  }

  /** Forgets every entry (their slots are reused as new ones). */
  clear(): void {
    this.entries.clear();
  }
}

let serials = 0;

/**
 * A policy set indexed by the principal and resource its policies can apply to.
 * Built once per policy version; a decision evaluates only the union of the
 * buckets its principal and resource keys select, pre-parsed once per distinct
 * union (see {@link PreparsedPool}).
 */
export class CompiledSet {
  readonly serial = ++serials;
  readonly size: number;
  private readonly buckets = new Map<ScopeKey, Map<ScopeKey, Bucket>>();
  /** Every entity named by a `==`/`in` constraint, for AuthZEN searches and token scope defaults. */
  readonly named = { principals: new Map<string, EntityUid>(), resources: new Map<string, EntityUid>() };

  constructor(
    readonly label: 'enforce' | 'shadow' | 'proposed',
    readonly version: number,
    readonly members: readonly Member[],
  ) {
    this.size = members.length;
    let ids = 0;
    for (const m of members) {
      let byResource = this.buckets.get(m.principalKey);
      if (!byResource) {
        byResource = new Map();
        this.buckets.set(m.principalKey, byResource);
      }
      let bucket = byResource.get(m.resourceKey);
      if (!bucket) {
        bucket = { id: ids++, members: [] };
        byResource.set(m.resourceKey, bucket);
      }
      bucket.members.push(m);
      const p = keyEntity(m.principalKey);
      if (p) this.named.principals.set(m.principalKey, p);
      const r = keyEntity(m.resourceKey);
      if (r) this.named.resources.set(m.resourceKey, r);
    }
  }

  /** The buckets a request with these principal and resource keys selects. */
  private select(principalKeys: readonly ScopeKey[], resourceKeys: readonly ScopeKey[]): Bucket[] {
    const selected: Bucket[] = [];
    for (const pk of principalKeys) {
      const byResource = this.buckets.get(pk);
      if (!byResource) continue;
      for (const rk of resourceKeys) {
        const bucket = byResource.get(rk);
        if (bucket) selected.push(bucket);
      }
    }
    return selected;
  }

  /** The resources of `type` that policies able to apply to this principal name (e.g. the scopes an agent may get). */
  namedResourcesFor(principalKeys: readonly ScopeKey[], type: string): EntityUid[] {
    const found = new Map<string, EntityUid>();
    for (const pk of principalKeys) {
      for (const rk of this.buckets.get(pk)?.keys() ?? []) {
        const uid = keyEntity(rk);
        if (uid?.type === type) found.set(rk, uid);
      }
    }
    return [...found.values()];
  }

  /** The members that can apply to a request (time-bound ones included), for explanations and tests. */
  applicable(principalKeys: readonly ScopeKey[], resourceKeys: readonly ScopeKey[]): Member[] {
    return this.select(principalKeys, resourceKeys).flatMap((b) => b.members);
  }

  /**
   * The pre-parsed slot of the policies that can apply right now, or null when
   * none can. Members past their `expiresAt` are left out: a time-bound grant
   * stops working at its end without anything having to run.
   */
  preparsed(
    pool: PreparsedPool,
    principalKeys: readonly ScopeKey[],
    resourceKeys: readonly ScopeKey[],
    now: number,
  ): PreparsedSlot | null {
    const buckets = this.select(principalKeys, resourceKeys);
    if (buckets.length === 0) return null;
    const key = `${this.serial}|${buckets
      .map((b) => b.id)
      .sort((a, b) => a - b)
      .join(',')}`;
    return pool.acquire(key, now, () => {
      let validUntil = Number.POSITIVE_INFINITY;
      const live: Member[] = [];
      for (const bucket of buckets) {
        for (const m of bucket.members) {
          if (m.expiresAt === null) live.push(m);
          else if (m.expiresAt > now) {
            live.push(m);
            validUntil = Math.min(validUntil, m.expiresAt);
          }
        }
      }
      return { set: toPolicySet(live), count: live.length, validUntil, contextUse: contextUseOf(live) };
    });
  }
}
