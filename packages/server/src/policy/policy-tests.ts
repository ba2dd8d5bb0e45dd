import type { Actor } from '../audit/index.js';
import { CustosError } from '../core/index.js';
import { requirePolicyReader } from './access.js';
import { type AuthzenParts, AuthzenRequestError, toDecisionRequest } from './authzen.js';
import type { CompiledSet } from './compiled-set.js';
import type { PolicyDeps } from './deps.js';
import { type PolicySetInput, proposedMembers } from './policy-sets.js';

/** A policy test: an AuthZEN-shaped request and the decision it must get. */
export interface PolicyTestCase extends AuthzenParts {
  readonly name: string;
  readonly expect: 'allow' | 'deny';
}

export interface PolicyTestResult {
  readonly name: string;
  readonly expected: 'allow' | 'deny';
  readonly actual: 'allow' | 'deny';
  readonly pass: boolean;
  readonly policies: readonly string[];
  readonly errors: readonly { policyId: string | null; message: string }[];
}

/**
 * Runs policy tests against a proposed set (`policies`/`sources`), or the
 * enforced set when none is given, with the current grants and entities.
 * Nothing is stored or audited: tests ask hypothetical questions.
 */
export async function runPolicyTests(
  deps: PolicyDeps,
  actor: Actor,
  input: Partial<PolicySetInput> & { cases: readonly PolicyTestCase[] },
): Promise<{ version: number; passed: number; failed: number; results: readonly PolicyTestResult[] }> {
  requirePolicyReader(actor, 'run policy tests');
  const proposed =
    input.policies !== undefined || input.sources !== undefined
      ? await deps.engine.compile(await proposedMembers(deps, input))
      : null;
  const state = await deps.engine.current();
  const set: CompiledSet = proposed ?? state.enforce;
  const results: PolicyTestResult[] = [];
  for (const [i, c] of input.cases.entries()) {
    let request: ReturnType<typeof toDecisionRequest>;
    try {
      request = toDecisionRequest(c);
    } catch (error) {
      if (!(error instanceof AuthzenRequestError)) throw error;
      throw new CustosError('validation_failed', `test \`${c.name}\`: ${error.message}`, {
        fields: [{ pointer: `/cases/${i}`, detail: error.message }],
      });
    }
    const d = await deps.engine.decideWith(set, request);
    const actual = d.allowed ? 'allow' : 'deny';
    results.push({
      name: c.name,
      expected: c.expect,
      actual,
      pass: actual === c.expect,
      policies: d.policies,
      errors: d.errors,
    });
  }
  const passed = results.filter((r) => r.pass).length;
  return { version: set.version, passed, failed: results.length - passed, results };
}
