import type { Actor } from '../audit/index.js';
import { notFound } from '../core/index.js';
import type {
  Page,
  PolicyMode,
  PolicyRecord,
  PolicyRevisionRecord,
  PolicyVersionRecord,
} from '../storage/index.js';
import { requirePolicyReader } from './access.js';
import type { PolicyDeps } from './deps.js';

export interface PolicySetView {
  readonly mode: PolicyMode;
  readonly version: number;
  /** For the shadow set: whether it is being evaluated. The enforced set is always active. */
  readonly active: boolean;
  readonly policies: readonly { id: string; text: string; effect?: string; version?: number }[];
}

/** The enforced or shadow set, now or as it was at `version`. */
export async function listPolicies(
  deps: PolicyDeps,
  actor: Actor,
  mode: PolicyMode,
  version?: number,
): Promise<PolicySetView> {
  requirePolicyReader(actor, 'read policies');
  const state = await deps.store.policy.state.read();
  if (version !== undefined) {
    if (version > state.version) throw notFound('policy version', String(version));
    return { mode, version, active: true, policies: await deps.store.policy.policies.at(mode, version) };
  }
  const policies = await deps.store.policy.policies.list(mode);
  return {
    mode,
    version: state.version,
    active: mode === 'enforce' || state.shadow,
    policies: policies.map((p) => ({ id: p.id, text: p.text, effect: p.effect, version: p.version })),
  };
}

/** One policy: its current text in each set and every revision, with who changed it, when and why. */
export async function getPolicy(
  deps: PolicyDeps,
  actor: Actor,
  id: string,
): Promise<{
  id: string;
  enforce: PolicyRecord | null;
  shadow: PolicyRecord | null;
  history: readonly (PolicyRevisionRecord & { change: PolicyVersionRecord | null })[];
}> {
  requirePolicyReader(actor, 'read policies');
  const [enforce, shadow, revisions] = await Promise.all([
    deps.store.policy.policies.list('enforce'),
    deps.store.policy.policies.list('shadow'),
    deps.store.policy.policies.revisions(id),
  ]);
  if (revisions.length === 0) throw notFound('policy', id);
  const versions = new Map<number, PolicyVersionRecord>();
  let cursor: string | undefined;
  const wanted = new Set(revisions.map((r) => r.version));
  // version rows are few per policy; page through newest first until all are found
  while (wanted.size > versions.size) {
    const page = await deps.store.policy.versions.list({ cursor, limit: 500 });
    for (const v of page.items) if (wanted.has(v.version)) versions.set(v.version, v);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return {
    id,
    enforce: enforce.find((p) => p.id === id) ?? null,
    shadow: shadow.find((p) => p.id === id) ?? null,
    history: revisions.map((r) => ({ ...r, change: versions.get(r.version) ?? null })),
  };
}

/** The history of policy changes, newest first. */
export function listPolicyVersions(
  deps: PolicyDeps,
  actor: Actor,
  request: { cursor?: string | undefined; limit: number },
): Promise<Page<PolicyVersionRecord>> {
  requirePolicyReader(actor, 'read the policy history');
  return deps.store.policy.versions.list(request);
}
