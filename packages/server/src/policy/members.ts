import type { PolicyRecord } from '../storage/index.js';
import { cedar, errorText } from './cedar.js';
import type { StaticMember } from './compiled-set.js';
import { PLATFORM_POLICIES } from './platform-policies.js';
import { scopeKey } from './policy-scope.js';
import { errorOffset } from './source-location.js';

/**
 * Parses one static policy and derives its effect and index keys. Costly
 * (Cedar converts the policy to JSON): done when a policy is applied, and the
 * result stored, never on the decision path.
 */
export function analysePolicy(
  id: string,
  text: string,
): { ok: true; member: StaticMember } | { ok: false; error: string; offset?: number | undefined } {
  const answer = cedar.policyToJson(text);
  if (answer.type === 'failure') {
    const first = answer.errors[0];
    return { ok: false, error: answer.errors.map(errorText).join('; '), offset: first && errorOffset(first) };
  }
  const json = answer.json;
  return {
    ok: true,
    member: {
      kind: 'static',
      id,
      text,
      effect: json.effect,
      principalKey: scopeKey(json.principal),
      resourceKey: scopeKey(json.resource),
      expiresAt: null,
    },
  };
}

/** The member of a stored policy (its keys were derived when it was applied). */
export function recordMember(p: PolicyRecord): StaticMember {
  return {
    kind: 'static',
    id: p.id,
    text: p.text,
    effect: p.effect,
    principalKey: p.principalScope,
    resourceKey: p.resourceScope,
    expiresAt: null,
  };
}

let platform: readonly StaticMember[] | null = null;

/** The platform's own policies (see `platform-policies.ts`), analysed once. */
export function platformMembers(): readonly StaticMember[] {
  if (!platform) {
    platform = Object.entries(PLATFORM_POLICIES).map(([id, text]) => {
      const analysed = analysePolicy(id, text);
      if (!analysed.ok) throw new Error(`INVARIANT: platform policy \`${id}\` parses: ${analysed.error}`);
      return analysed.member;
    });
  }
  return platform;
}
