import { type Actor, recordAuditEvent } from '../audit/index.js';
import { CustosError } from '../core/index.js';
import { requirePolicyAdmin } from './access.js';
import type { StaticMember } from './compiled-set.js';
import type { PolicyDeps } from './deps.js';
import { byId, diffOf, type PolicyDiff, recordVersion, writeSet } from './policy-sets.js';

/** Makes the shadow set the enforced set, and ends shadow evaluation. */
export async function promoteShadow(
  deps: PolicyDeps,
  actor: Actor,
  reason: string,
): Promise<{ version: number; diff: PolicyDiff }> {
  requirePolicyAdmin(actor, 'promote the shadow set');
  return deps.store.transaction(async (tx) => {
    const state = await tx.policy.state.read({ lock: true });
    if (!state.shadow) throw new CustosError('invalid_transition', 'there is no shadow set to promote');
    const version = await tx.policy.state.advance();
    const current = byId(await tx.policy.policies.list('enforce'));
    const shadow = await tx.policy.policies.list('shadow');
    const next = shadow.map(
      (p): StaticMember => ({
        kind: 'static',
        id: p.id,
        text: p.text,
        effect: p.effect,
        principalKey: p.principalScope,
        resourceKey: p.resourceScope,
        expiresAt: null,
      }),
    );
    const diff = diffOf(current, next);
    await writeSet(tx, 'enforce', version, current, next, diff);
    await writeSet(tx, 'shadow', version, byId(shadow), [], diffOf(byId(shadow), []));
    await tx.policy.state.setShadow(false);
    const summary = { added: diff.added, changed: diff.changed, removed: diff.removed, size: next.length };
    await recordVersion(tx, deps, actor, { version, kind: 'promote', mode: 'enforce', reason, summary });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'policy.promote',
      target: { type: 'policy_set', id: 'enforce' },
      reason,
      details: { version, ...summary },
    });
    return { version, diff };
  });
}

/** Ends shadow evaluation and drops the shadow set. */
export async function discardShadow(
  deps: PolicyDeps,
  actor: Actor,
  reason: string,
): Promise<{ version: number }> {
  requirePolicyAdmin(actor, 'discard the shadow set');
  return deps.store.transaction(async (tx) => {
    const state = await tx.policy.state.read({ lock: true });
    if (!state.shadow) throw new CustosError('invalid_transition', 'there is no shadow set to discard');
    const version = await tx.policy.state.advance();
    const shadow = byId(await tx.policy.policies.list('shadow'));
    await writeSet(tx, 'shadow', version, shadow, [], diffOf(shadow, []));
    await tx.policy.state.setShadow(false);
    await recordVersion(tx, deps, actor, {
      version,
      kind: 'discard',
      mode: 'shadow',
      reason,
      summary: { removed: [...shadow.keys()] },
    });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'policy.discard',
      target: { type: 'policy_set', id: 'shadow' },
      reason,
      details: { version, removed: shadow.size },
    });
    return { version };
  });
}
