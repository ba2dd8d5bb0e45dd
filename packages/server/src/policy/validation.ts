import { cedar, errorText } from './cedar.js';
import type { GrantShape } from './grant-template.js';
import { grantTemplate } from './grant-template.js';
import type { PolicyInput } from './policy-sources.js';
import type { EffectiveSchema } from './schema.js';
import { errorOffset } from './source-location.js';

/** A validator message about one policy (null: about the set as a whole). */
export interface ValidationMessage {
  readonly policyId: string | null;
  readonly message: string;
  /** Character offset into the policy's text that Cedar points at, when it does. */
  readonly offset?: number;
}

export interface ValidationReport {
  readonly errors: readonly ValidationMessage[];
  readonly warnings: readonly ValidationMessage[];
}

/**
 * Validates policies (and grants, as template links) against the schema with
 * Cedar's strict validator. Errors refuse the change; warnings are reported.
 */
export function validateAgainstSchema(
  schema: EffectiveSchema,
  policies: readonly PolicyInput[],
  grants: readonly GrantShape[] = [],
): ValidationReport {
  const staticPolicies: Record<string, string> = {};
  for (const p of policies) staticPolicies[p.id] = p.text;
  const templates: Record<string, string> = {};
  const templateLinks = grants.map((g) => {
    const { templateId, text } = grantTemplate(g);
    templates[templateId] = text;
    return {
      templateId,
      newId: g.id,
      values: {
        '?principal': { type: g.principalType, id: g.principalId },
        '?resource': { type: g.resourceType, id: g.resourceId },
      },
    };
  });
  const answer = cedar.validate({
    schema: schema.json,
    policies: { staticPolicies, templates, templateLinks },
    validationSettings: { mode: 'strict' },
  });
  if (answer.type === 'failure') {
    return { errors: answer.errors.map((e) => ({ policyId: null, message: errorText(e) })), warnings: [] };
  }
  return {
    errors: answer.validationErrors.map((v) => ({
      policyId: v.policyId,
      message: errorText(v.error),
      offset: errorOffset(v.error),
    })),
    warnings: answer.validationWarnings.map((v) => ({ policyId: v.policyId, message: errorText(v.error) })),
  };
}
