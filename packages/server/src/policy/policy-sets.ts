import { type Actor, recordAuditEvent } from '../audit/index.js';
import { CustosError, type FieldError } from '../core/index.js';
import type {
  PolicyMode,
  PolicyRecord,
  PolicyVersionRecord,
  Repositories,
  TxRepositories,
} from '../storage/index.js';
import { requirePolicyAdmin, requirePolicyReader } from './access.js';
import type { StaticMember } from './compiled-set.js';
import type { PolicyDeps } from './deps.js';
import { analysePolicy } from './members.js';
import { type PolicyInput, type PolicySource, policyIdProblem, splitSources } from './policy-sources.js';
import { locate } from './source-location.js';
import { storedSchema } from './stored-schema.js';
import { type ValidationMessage, validateAgainstSchema } from './validation.js';

export interface PolicyDiff {
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  readonly unchanged: number;
}

/** A whole policy set, declaratively: exactly one of `policies` and `sources`. */
export interface PolicySetInput {
  readonly policies?: readonly PolicyInput[] | undefined;
  readonly sources?: readonly PolicySource[] | undefined;
}

export interface PutPoliciesInput extends PolicySetInput {
  readonly mode: PolicyMode;
  readonly reason: string;
  /** Validate and compute the diff, change nothing. */
  readonly dryRun?: boolean | undefined;
}

export interface PutPoliciesResult {
  readonly mode: PolicyMode;
  /** The version the change created; the current one when nothing changed or on a dry run. */
  readonly version: number;
  readonly applied: boolean;
  readonly diff: PolicyDiff;
  readonly warnings: readonly ValidationMessage[];
}

/** A proposed set, parsed, named, validated and analysed; or the problems that refuse it. */
interface Prepared {
  readonly members: readonly StaticMember[];
  readonly warnings: readonly ValidationMessage[];
}

const refuse = (message: string, fields: readonly FieldError[]) =>
  new CustosError('validation_failed', message, { fields });

/** Reads the input into named policies, refusing bad ids, duplicates and parse errors. */
export function readPolicySet(input: PolicySetInput): (PolicyInput & { pointer: string })[] {
  if ((input.policies === undefined) === (input.sources === undefined)) {
    throw refuse('give exactly one of `policies` and `sources`', [
      { pointer: '/', detail: 'give exactly one of `policies` and `sources`' },
    ]);
  }
  const fields: FieldError[] = [];
  let named: (PolicyInput & { pointer: string })[];
  if (input.sources) {
    const split = splitSources(input.sources);
    fields.push(...split.problems);
    named = split.policies.map((p) => ({ id: p.id, text: p.text, pointer: `/sources/${p.source}` }));
  } else {
    named = (input.policies ?? []).map((p, i) => ({ ...p, pointer: `/policies/${i}` }));
  }
  const seen = new Set<string>();
  for (const p of named) {
    const problem = policyIdProblem(p.id);
    if (problem) fields.push({ pointer: p.pointer, detail: problem });
    if (seen.has(p.id)) fields.push({ pointer: p.pointer, detail: `policy id \`${p.id}\` is used twice` });
    seen.add(p.id);
  }
  if (fields.length > 0) throw refuse(fields[0]?.detail ?? 'invalid policies', fields);
  return named;
}

/**
 * Validates the policies that differ from `current` against the schema (the
 * others were validated against this same schema when applied, or when the
 * schema last changed) and analyses them. Throws with every validator message.
 */
async function prepare(
  repos: Repositories,
  named: readonly (PolicyInput & { pointer: string })[],
  current: ReadonlyMap<string, PolicyRecord>,
): Promise<Prepared> {
  const schema = await storedSchema(repos);
  const fresh = named.filter((p) => current.get(p.id)?.text !== p.text);
  const fields: FieldError[] = [];
  const members: StaticMember[] = [];
  for (const p of named) {
    const stored = current.get(p.id);
    if (stored && stored.text === p.text) {
      members.push({
        kind: 'static',
        id: p.id,
        text: p.text,
        effect: stored.effect,
        principalKey: stored.principalScope,
        resourceKey: stored.resourceScope,
        expiresAt: null,
      });
      continue;
    }
    const analysed = analysePolicy(p.id, p.text);
    if (!analysed.ok) {
      fields.push({
        pointer: p.pointer,
        detail: `policy \`${p.id}\`: ${analysed.error}`,
        ...locate(p.text, analysed.offset),
      });
    } else members.push(analysed.member);
  }
  if (fields.length > 0) throw refuse(fields[0]?.detail ?? 'invalid policies', fields);
  const report = validateAgainstSchema(schema, fresh);
  if (report.errors.length > 0) {
    const pointerOf = new Map(named.map((p) => [p.id, p.pointer]));
    const textOf = new Map(named.map((p) => [p.id, p.text]));
    const errors = report.errors.map((e) => ({
      pointer: (e.policyId && pointerOf.get(e.policyId)) || '/',
      detail: e.policyId ? `policy \`${e.policyId}\`: ${e.message}` : e.message,
      ...(e.policyId ? locate(textOf.get(e.policyId) ?? '', e.offset) : undefined),
    }));
    throw refuse(
      `the policy set does not validate against the schema (${errors.length} error${errors.length === 1 ? '' : 's'}): ${errors[0]?.detail}`,
      errors,
    );
  }
  return { members, warnings: report.warnings };
}

export function diffOf(
  current: ReadonlyMap<string, PolicyRecord>,
  next: readonly StaticMember[],
): PolicyDiff {
  const nextIds = new Set(next.map((m) => m.id));
  const added: string[] = [];
  const changed: string[] = [];
  let unchanged = 0;
  for (const m of next) {
    const old = current.get(m.id);
    if (!old) added.push(m.id);
    else if (old.text !== m.text) changed.push(m.id);
    else unchanged++;
  }
  const removed = [...current.keys()].filter((id) => !nextIds.has(id)).sort();
  return { added: added.sort(), changed: changed.sort(), removed, unchanged };
}

/** Writes `next` as the set `mode` at `version`: upserts, removals and their revisions. */
export async function writeSet(
  tx: TxRepositories,
  mode: PolicyMode,
  version: number,
  current: ReadonlyMap<string, PolicyRecord>,
  next: readonly StaticMember[],
  diff: PolicyDiff,
): Promise<void> {
  const touched = new Set([...diff.added, ...diff.changed]);
  for (const m of next) {
    if (!touched.has(m.id)) continue;
    await tx.policy.policies.upsert({
      mode,
      id: m.id,
      text: m.text,
      effect: m.effect,
      principalScope: m.principalKey,
      resourceScope: m.resourceKey,
      version,
    });
    await tx.policy.policies.addRevision({ mode, id: m.id, version, text: m.text });
  }
  for (const id of diff.removed) {
    if (!current.has(id)) continue;
    await tx.policy.policies.delete(mode, id);
    await tx.policy.policies.addRevision({ mode, id, version, text: null });
  }
}

export async function recordVersion(
  tx: TxRepositories,
  deps: PolicyDeps,
  actor: Actor,
  v: Omit<PolicyVersionRecord, 'at' | 'actorType' | 'actorId'>,
): Promise<void> {
  await tx.policy.versions.insert({ ...v, at: deps.clock.now(), actorType: actor.type, actorId: actor.id });
  await tx.notify({ topic: 'policy', id: 'state' });
}

export const byId = (records: readonly PolicyRecord[]) => new Map(records.map((r) => [r.id, r]));

/**
 * Replaces the whole enforced or shadow policy set (declarative). Every new or
 * changed policy is validated against the schema first; an invalid set is
 * refused with the validator's messages and nothing of it is loaded. Applying
 * a shadow set starts shadow evaluation: decisions record what it would have
 * decided, while the enforced set keeps deciding.
 *
 * Concurrency: the version row is advanced first, which serialises writers.
 */
export async function putPolicies(
  deps: PolicyDeps,
  actor: Actor,
  input: PutPoliciesInput,
): Promise<PutPoliciesResult> {
  if (!input.dryRun) requirePolicyAdmin(actor, 'change policies');
  else requirePolicyReader(actor, 'preview policy changes');
  const named = readPolicySet(input);
  if (input.dryRun) {
    const current = byId(await deps.store.policy.policies.list(input.mode));
    const prepared = await prepare(deps.store, named, current);
    return {
      mode: input.mode,
      version: await deps.store.policy.state.version(),
      applied: false,
      diff: diffOf(current, prepared.members),
      warnings: prepared.warnings,
    };
  }
  return deps.store.transaction(async (tx) => {
    const state = await tx.policy.state.read({ lock: true });
    const current = byId(await tx.policy.policies.list(input.mode));
    const prepared = await prepare(tx, named, current);
    const diff = diffOf(current, prepared.members);
    const activates = input.mode === 'shadow' && !state.shadow;
    if (diff.added.length + diff.changed.length + diff.removed.length === 0 && !activates) {
      return { mode: input.mode, version: state.version, applied: false, diff, warnings: prepared.warnings };
    }
    const version = await tx.policy.state.advance();
    await writeSet(tx, input.mode, version, current, prepared.members, diff);
    if (activates) await tx.policy.state.setShadow(true);
    const summary = { added: diff.added, changed: diff.changed, removed: diff.removed, size: named.length };
    await recordVersion(tx, deps, actor, {
      version,
      kind: 'policies',
      mode: input.mode,
      reason: input.reason,
      summary,
    });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'policy.apply',
      target: { type: 'policy_set', id: input.mode },
      reason: input.reason,
      details: { version, ...summary },
    });
    return { mode: input.mode, version, applied: true, diff, warnings: prepared.warnings };
  });
}

/** Validates a proposed set against the schema without storing anything (`custos policy validate`). */
export async function validatePolicies(
  deps: PolicyDeps,
  actor: Actor,
  input: PolicySetInput,
): Promise<{
  valid: boolean;
  policies: number;
  errors: readonly FieldError[];
  warnings: readonly ValidationMessage[];
}> {
  requirePolicyReader(actor, 'validate policies');
  try {
    const named = readPolicySet(input);
    const prepared = await prepare(deps.store, named, new Map());
    return { valid: true, policies: named.length, errors: [], warnings: prepared.warnings };
  } catch (error) {
    if (error instanceof CustosError && error.code === 'validation_failed') {
      return { valid: false, policies: 0, errors: error.fields, warnings: [] };
    }
    throw error;
  }
}

/** A proposed set, validated and analysed, for what-if and policy tests. */
export async function proposedMembers(
  deps: PolicyDeps,
  input: PolicySetInput,
): Promise<readonly StaticMember[]> {
  const named = readPolicySet(input);
  return (await prepare(deps.store, named, byId(await deps.store.policy.policies.list('enforce')))).members;
}
