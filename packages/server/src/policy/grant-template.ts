import { createHash } from 'node:crypto';
import type { GrantRecord } from '../storage/index.js';
import { cedar } from './cedar.js';
import type { LinkMember } from './compiled-set.js';
import { cedarString, uidKey } from './entity-uid.js';

/** What a grant says; the template is derived from it, never stored separately. */
export type GrantShape = Pick<
  GrantRecord,
  | 'id'
  | 'principalType'
  | 'principalId'
  | 'action'
  | 'resourceType'
  | 'resourceId'
  | 'resourceScope'
  | 'condition'
  | 'expiresAt'
>;

/**
 * The Cedar template of a grant. Grants of the same shape (principal kind,
 * action, resource scope and condition) share one template; each grant is a
 * link of it, named by the grant id:
 *
 *   permit (principal == ?principal, action == Action::"tools/call", resource in ?resource)
 *   when { <condition> };
 *
 * A team grant uses `principal in ?principal`, so it covers every agent (and person) of the team;
 * an agent or a person (`User`) grant uses `==`.
 */
export function grantTemplate(g: GrantShape): { templateId: string; text: string } {
  const principal = g.principalType === 'Team' ? 'in' : '==';
  const resource = g.resourceScope === 'in' ? 'in' : '==';
  const text =
    `permit (principal ${principal} ?principal, action == Action::${cedarString(g.action)}, resource ${resource} ?resource)` +
    (g.condition ? `\nwhen { ${g.condition} };` : ';');
  const templateId = `custos:grant-template:${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
  return { templateId, text };
}

/**
 * Checks that a condition is one Cedar expression (it is spliced into a
 * template, so it must not be able to close the policy and open another).
 */
export function conditionProblem(condition: string): string | null {
  const text = `permit (principal, action, resource) when { ${condition} };`;
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') return parts.errors.map((e) => e.message).join('; ');
  if (parts.policies.length !== 1 || parts.policy_templates.length !== 0)
    return 'not a single Cedar expression';
  const json = cedar.policyToJson(text);
  if (json.type === 'failure') return json.errors.map((e) => e.message).join('; ');
  if (json.json.conditions.length !== 1) return 'not a single Cedar expression';
  return null;
}

/** The compiled member of a grant. */
export function grantMember(g: GrantShape): LinkMember {
  const { templateId, text } = grantTemplate(g);
  const principal = { type: g.principalType, id: g.principalId };
  const resource = { type: g.resourceType, id: g.resourceId };
  return {
    kind: 'link',
    id: g.id,
    templateId,
    templateText: text,
    principal,
    resource,
    effect: 'permit',
    principalKey: `${g.principalType === 'Team' ? 'in:' : '='}${uidKey(principal)}`,
    resourceKey: `${g.resourceScope === 'in' ? 'in:' : '='}${uidKey(resource)}`,
    expiresAt: g.expiresAt,
  };
}
