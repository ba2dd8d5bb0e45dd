import { cedar, errorText } from './cedar.js';
import { RESERVED_POLICY_ID } from './platform-policies.js';

/** A policy as the API takes it: an id and the text of exactly one static policy. */
export interface PolicyInput {
  readonly id: string;
  readonly text: string;
}

/** A file of Cedar policies (`custos policy apply <dir>` sends one per `.cedar` file). */
export interface PolicySource {
  readonly name: string;
  readonly text: string;
}

/** A problem with the input, addressed by where it came from. */
export interface SourceProblem {
  readonly pointer: string;
  readonly detail: string;
}

export const POLICY_ID = /^[A-Za-z0-9][A-Za-z0-9_.:/#@-]{0,199}$/;

/** Why `id` cannot name an admin policy, or null. */
export function policyIdProblem(id: string): string | null {
  if (!POLICY_ID.test(id))
    return `policy id \`${id}\` must be 1-200 of A-Z a-z 0-9 _ . : / # @ - (not starting with a symbol)`;
  if (RESERVED_POLICY_ID.test(id))
    return `policy id \`${id}\` uses a reserved prefix (\`custos:\`, \`grt_\`)`;
  return null;
}

// The `@id("…")` annotation among the annotations that open a policy.
const ID_ANNOTATION = /@id\s*\(\s*("(?:[^"\\]|\\.)*")\s*\)/;
const EFFECT = /\b(permit|forbid)\s*\(/;

function annotatedId(policyText: string): string | null {
  const effect = EFFECT.exec(policyText);
  const head = effect ? policyText.slice(0, effect.index) : policyText;
  const match = ID_ANNOTATION.exec(head);
  if (!match?.[1]) return null;
  try {
    const id: unknown = JSON.parse(match[1]);
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}

/**
 * Splits policy files into policies, in file order. A policy is named by its
 * `@id("…")` annotation; otherwise by its file name without `.cedar` when the
 * file holds one policy, or `<name>#<n>` (1-based) when it holds several. Use
 * `@id` for ids that survive edits. Templates are refused (grants are the way
 * to link policies).
 */
export function splitSources(sources: readonly PolicySource[]): {
  policies: (PolicyInput & { source: number })[];
  problems: SourceProblem[];
} {
  const policies: (PolicyInput & { source: number })[] = [];
  const problems: SourceProblem[] = [];
  sources.forEach((source, index) => {
    const pointer = `/sources/${index}`;
    const parts = cedar.policySetTextToParts(source.text);
    if (parts.type === 'failure') {
      for (const e of parts.errors) problems.push({ pointer, detail: `\`${source.name}\`: ${errorText(e)}` });
      return;
    }
    if (parts.policy_templates.length > 0) {
      problems.push({
        pointer,
        detail: `\`${source.name}\`: templates are not accepted in policy files; use grants to link policies`,
      });
      return;
    }
    // Cedar returns the parts sorted by their generated ids (policy0, policy1, policy10, …): restore file order
    const order = parts.policies.map((_, i) => `policy${i}`).sort();
    const inOrder: string[] = [];
    order.forEach((generated, k) => {
      inOrder[Number(generated.slice('policy'.length))] = parts.policies[k] as string;
    });
    const stem = source.name.replace(/\\/g, '/').replace(/\.cedar$/, '');
    inOrder.forEach((text, n) => {
      const id = annotatedId(text) ?? (inOrder.length === 1 ? stem : `${stem}#${n + 1}`);
      policies.push({ id, text, source: index });
    });
  });
  return { policies, problems };
}
