import type { Clock } from '../core/index.js';
import type { Change, Store } from '../storage/index.js';
import { type Context, cedar, type EntityJson, errorText, type TypeAndId } from './cedar.js';
import { CedarValueError, toCedarRecord } from './cedar-values.js';
import {
  CompiledSet,
  type Member,
  PreparsedPool,
  type PreparsedSlot,
  type StaticMember,
} from './compiled-set.js';
import type { Decision, DecisionRequest, EvaluationError, SetDecision } from './decision.js';
import { DecisionMemo, memoKey, sealEntity } from './decision-memo.js';
import { EntityLoader } from './entity-loader.js';
import type { EntityUid } from './entity-uid.js';
import { grantMember } from './grant-template.js';
import { platformMembers, recordMember } from './members.js';
import { AGENT_INACTIVE, USER_INACTIVE } from './platform-policies.js';
import { requestKeys, type ScopeKey } from './policy-scope.js';
import { buildSchema, type EffectiveSchema } from './schema.js';

/** Everything decisions depend on besides entities, as of one policy version. */
export interface EngineState {
  readonly version: number;
  readonly schema: EffectiveSchema;
  readonly enforce: CompiledSet;
  readonly shadow: CompiledSet | null;
  /** The grants (links) and platform policies every set includes. */
  readonly shared: readonly Member[];
}

/** A request turned into Cedar's terms, with its entities gathered: ready to evaluate against any set. */
interface Prepared {
  readonly principal: TypeAndId;
  readonly action: TypeAndId;
  readonly resource: TypeAndId;
  readonly context: Context;
  readonly entities: EntityJson[];
  readonly principalKeys: readonly ScopeKey[];
  readonly resourceKeys: readonly ScopeKey[];
  /** When set, the request is denied before any policy: why. */
  readonly refusal: EvaluationError | null;
  readonly refusedBy: string | null;
}

const deny = (version: number, errors: readonly EvaluationError[], policies: readonly string[] = []) => ({
  allowed: false,
  policies,
  errors,
  version,
  evaluated: 0,
});

/**
 * The decision engine. Loads the policy state (schema, enforced and shadow
 * sets, grants) once per version, keeps it indexed and pre-parsed, and answers
 * decisions: default deny, forbid wins, and any evaluation error denies.
 *
 * Freshness: a change committed in this process reaches the engine before its
 * transaction's caller continues (the store's change feed delivers it after
 * commit); other processes hear it through PostgreSQL `LISTEN/NOTIFY`. While
 * the feed is unhealthy, every decision first reads the version row and the
 * entity cache is bypassed. Cedar's answers are memoized by the build of the
 * pre-parsed set and the exact text of the entities and of the context members
 * its policies read (see {@link memoKey}); the checks before Cedar run on every
 * decision.
 */
export class PolicyEngine {
  readonly entities: EntityLoader;
  private readonly pool: PreparsedPool;
  private readonly memo = new DecisionMemo();
  private state: EngineState | null = null;
  private stale = true;
  private staleGeneration = 0;
  private loading: Promise<EngineState> | null = null;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly deps: { readonly store: Store; readonly clock: Clock },
    options: { readonly preparsedSets?: number } = {},
  ) {
    this.entities = new EntityLoader(deps.store);
    this.pool = new PreparsedPool(options.preparsedSets);
    this.unsubscribe = deps.store.changes.subscribe((change) => this.onChange(change));
  }

  private onChange(change: Change): void {
    this.entities.drop(change);
    if (change.id === '*' || (change.topic === 'policy' && change.id === 'state')) {
      this.stale = true;
      this.staleGeneration++;
      // not needed for correctness (a new version means new builds), but its answers are dead
      this.memo.clear();
    }
  }

  /** Stops listening to changes. */
  close(): void {
    this.unsubscribe();
  }

  /** The state when it is known to be current without asking the database, else null. */
  private fresh(): EngineState | null {
    return this.state && !this.stale && this.deps.store.changes.healthy() ? this.state : null;
  }

  /** The current state, reloaded first when a change (or an unhealthy feed) says it may be stale. */
  async current(): Promise<EngineState> {
    const state = this.state;
    if (state && !this.stale) {
      if (this.deps.store.changes.healthy()) return state;
      if ((await this.deps.store.policy.state.version()) === state.version) return state;
    }
    this.loading ??= this.load().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async load(): Promise<EngineState> {
    const { store } = this.deps;
    for (let attempt = 0; attempt < 5; attempt++) {
      const generation = this.staleGeneration;
      const { version: before, shadow: shadowActive } = await store.policy.state.read();
      const [policies, grants, schemaRow] = await Promise.all([
        store.policy.policies.listAll(),
        store.policy.grants.live(),
        store.policy.schemas.current(),
      ]);
      // a change committed between the reads would mix two versions: read again
      if ((await store.policy.state.version()) !== before) continue;
      const schema = buildSchema(schemaRow?.text ?? '', schemaRow?.version ?? 0);
      if (!schema.ok) throw new Error(`the stored schema no longer builds: ${schema.errors.join('; ')}`);
      const shared: Member[] = [...platformMembers(), ...grants.map(grantMember)];
      const enforce = policies.filter((p) => p.mode === 'enforce').map(recordMember);
      const shadow = policies.filter((p) => p.mode === 'shadow').map(recordMember);
      const state: EngineState = {
        version: before,
        schema: schema.schema,
        shared,
        enforce: new CompiledSet('enforce', before, [...shared, ...enforce]),
        shadow: shadowActive ? new CompiledSet('shadow', before, [...shared, ...shadow]) : null,
      };
      this.state = state;
      if (generation === this.staleGeneration) this.stale = false;
      return state;
    }
    throw new Error('the policy state kept changing while it was being loaded');
  }

  /** A set of proposed policies (not stored), with the current grants and platform policies, for what-if and tests. */
  async compile(policies: readonly StaticMember[]): Promise<CompiledSet> {
    const state = await this.current();
    return new CompiledSet('proposed', state.version, [...state.shared, ...policies]);
  }

  /**
   * Decides a request against the enforced set (and, when there is one, the
   * shadow set, whose outcome is reported but never enforced). Never throws:
   * if the state cannot be loaded, the decision is a deny carrying the error.
   */
  async decide(request: DecisionRequest): Promise<Decision> {
    let state: EngineState;
    try {
      // no await when the state is known fresh: the common case
      state = this.fresh() ?? (await this.current());
    } catch (error) {
      return {
        ...deny(-1, [{ policyId: null, message: `policy engine unavailable: ${String(error)}` }]),
        shadow: null,
      };
    }
    const prepared = await this.prepare(state, request);
    const now = this.deps.clock.now();
    const enforced = this.evaluate(state.enforce, prepared, now);
    return { ...enforced, shadow: state.shadow ? this.evaluate(state.shadow, prepared, now) : null };
  }

  /** Decides a request against one given set (a proposed one: what-if, policy tests). */
  async decideWith(set: CompiledSet, request: DecisionRequest): Promise<SetDecision> {
    const state = await this.current();
    return this.evaluate(set, await this.prepare(state, request), this.deps.clock.now());
  }

  /** Resources of `type` the policies that can apply to `principal` name (candidates for a token's default scopes). */
  async namedResources(principal: EntityUid, type: string): Promise<EntityUid[]> {
    const state = await this.current();
    const gathered = await this.entities.gather([{ uid: principal, overlay: null }]);
    return state.enforce.namedResourcesFor(requestKeys(principal, gathered.ancestors[0] ?? []), type);
  }

  private async prepare(state: EngineState, request: DecisionRequest): Promise<Prepared> {
    let refusal: EvaluationError | null = null;
    let refusedBy: string | null = null;
    const convert = (value: Readonly<Record<string, unknown>> | undefined, path: string) => {
      if (value === undefined) return null;
      try {
        return toCedarRecord(value, path);
      } catch (error) {
        if (!(error instanceof CedarValueError)) throw error;
        refusal ??= { policyId: null, message: error.message };
        return null;
      }
    };
    const context = convert(request.context, 'context') ?? {};
    const gathered = await this.entities.gather([
      { uid: request.principal, overlay: convert(request.principalProperties, 'subject.properties') },
      { uid: request.resource, overlay: convert(request.resourceProperties, 'resource.properties') },
    ]);
    const now = this.deps.clock.now();
    if (request.principal.type === 'Agent') {
      const agent = gathered.loaded[0]?.agent;
      const why = !agent
        ? `agent \`${request.principal.id}\` does not exist`
        : agent.status !== 'active'
          ? `agent \`${request.principal.id}\` is ${agent.status}`
          : agent.expiresAt <= now
            ? `agent \`${request.principal.id}\` has expired`
            : null;
      if (why) {
        refusal = { policyId: AGENT_INACTIVE, message: why };
        refusedBy = AGENT_INACTIVE;
      }
    } else if (request.principal.type === 'User') {
      const status = gathered.loaded[0]?.json.attrs.status;
      if (status !== 'active') {
        const why =
          status === undefined
            ? `user \`${request.principal.id}\` does not exist`
            : `user \`${request.principal.id}\` is ${String(status)}`;
        refusal = { policyId: USER_INACTIVE, message: why };
        refusedBy = USER_INACTIVE;
      }
    }
    return {
      principal: { type: request.principal.type, id: request.principal.id },
      action: { type: 'Action', id: request.action },
      resource: { type: request.resource.type, id: request.resource.id },
      context,
      entities: [...gathered.entities, ...actionEntities(state.schema, request.action)],
      principalKeys: requestKeys(request.principal, gathered.ancestors[0] ?? []),
      resourceKeys: requestKeys(request.resource, gathered.ancestors[1] ?? []),
      refusal,
      refusedBy,
    };
  }

  private evaluate(set: CompiledSet, p: Prepared, now: number): SetDecision {
    if (p.refusal) return deny(set.version, [p.refusal], p.refusedBy ? [p.refusedBy] : []);
    let slot: PreparsedSlot | null;
    try {
      slot = set.preparsed(this.pool, p.principalKeys, p.resourceKeys, now);
    } catch (error) {
      return deny(set.version, [{ policyId: null, message: String(error) }]);
    }
    if (!slot) return deny(set.version, []);
    const key = memoKey(slot.build, p, slot.contextUse);
    return (key !== null && this.memo.get(key)) || this.callCedar(set, p, slot, key);
  }

  /**
   * One Cedar call on a pre-parsed set, with the any-error-denies rule; never
   * throws. Its answer is remembered under `key` (when not null), unless Cedar
   * threw: that deny is not remembered, the next call asks again.
   */
  private callCedar(set: CompiledSet, p: Prepared, slot: PreparsedSlot, key: string | null): SetDecision {
    let answer: ReturnType<typeof cedar.statefulIsAuthorized>;
    try {
      answer = cedar.statefulIsAuthorized({
        principal: p.principal,
        action: p.action,
        resource: p.resource,
        context: p.context,
        preparsedPolicySetId: slot.slot,
        entities: p.entities,
      });
    } catch (error) {
      // e.g. input cedar-wasm cannot even read (a lone surrogate in an entity's id): deny
      return {
        ...deny(set.version, [{ policyId: null, message: `the policy engine failed: ${String(error)}` }]),
        evaluated: slot.count,
      };
    }
    const remember = (d: SetDecision) => (key === null ? d : this.memo.set(key, d));
    if (answer.type === 'failure') {
      return remember({
        ...deny(
          set.version,
          answer.errors.map((e) => ({ policyId: null, message: errorText(e) })),
        ),
        evaluated: slot.count,
      });
    }
    const { decision, diagnostics } = answer.response;
    const errors = diagnostics.errors.map((e) => ({ policyId: e.policyId, message: errorText(e.error) }));
    // INVARIANT: any evaluation error denies. Cedar skips an erroring policy, so
    // an erroring `forbid` would otherwise let a permit through.
    const allowed = decision === 'allow' && errors.length === 0;
    const policies =
      decision === 'allow' && !allowed ? [...new Set(errors.map((e) => e.policyId))] : diagnostics.reason;
    return remember({ allowed, policies, errors, version: set.version, evaluated: slot.count });
  }

  /**
   * Whether a human's approval can lift a denial: only when every deciding
   * policy is an enforced `forbid` annotated `@approval("person")` or
   * `@approval("owner")` and nothing erred. Such a forbid should end with
   * `unless { context.approved }`, which the gateway sets once a matching
   * approval is presented. Null: the denial stands.
   */
  async approvalRequirement(
    decision: Decision,
  ): Promise<{ kind: 'person' | 'owner'; kinds: ('person' | 'owner')[]; policies: string[] } | null> {
    if (decision.allowed || decision.errors.length > 0 || decision.policies.length === 0) return null;
    const state = await this.current();
    if (state.version !== decision.version) return null;
    let kind: 'person' | 'owner' = 'person';
    const kinds = new Set<'person' | 'owner'>();
    for (const id of decision.policies) {
      const member = state.enforce.members.find((m) => m.id === id);
      if (member?.kind !== 'static' || member.effect !== 'forbid') return null;
      const wanted = approvalAnnotation(member.text);
      if (wanted === null) return null;
      kinds.add(wanted);
      if (wanted === 'owner') kind = 'owner';
    }
    // `kinds`: every approver the deciding forbids name (one approval can stand for one of them)
    return { kind, kinds: [...kinds], policies: [...decision.policies] };
  }
}

const annotations = new Map<string, 'person' | 'owner' | null>();

/** The `@approval("person"|"owner")` annotation of a policy's text, or null. */
function approvalAnnotation(text: string): 'person' | 'owner' | null {
  let value = annotations.get(text);
  if (value === undefined) {
    const answer = cedar.policyToJson(text);
    const raw = answer.type === 'success' ? answer.json.annotations?.approval : undefined;
    value = raw === 'person' || raw === 'owner' ? raw : null;
    if (annotations.size > 10_000) annotations.clear();
    annotations.set(text, value);
  }
  return value;
}

/** The action and the action groups it is in (from the schema): Cedar needs them for `action in …`. */
/** Per schema: each action's entities (sealed, built once). */
const actionEntityCache = new WeakMap<EffectiveSchema, Map<string, readonly EntityJson[]>>();

function actionEntities(schema: EffectiveSchema, action: string): readonly EntityJson[] {
  let bySchema = actionEntityCache.get(schema);
  if (!bySchema) {
    bySchema = new Map();
    actionEntityCache.set(schema, bySchema);
  }
  let entities = bySchema.get(action);
  if (!entities) {
    entities = buildActionEntities(schema, action).map(sealEntity);
    if (bySchema.size >= 1024) bySchema.clear();
    bySchema.set(action, entities);
  }
  return entities;
}

function buildActionEntities(schema: EffectiveSchema, action: string): EntityJson[] {
  const out: EntityJson[] = [];
  const seen = new Set<string>();
  const queue = [action];
  while (queue.length > 0 && out.length < 32) {
    const name = queue.shift() as string;
    if (seen.has(name)) continue;
    seen.add(name);
    const memberOf = schema.actions.get(name)?.memberOf ?? [];
    if (memberOf.length === 0 && name === action) return [];
    out.push({
      uid: { type: 'Action', id: name },
      attrs: {},
      parents: memberOf.map((id) => ({ type: 'Action', id })),
    });
    queue.push(...memberOf);
  }
  return out;
}
