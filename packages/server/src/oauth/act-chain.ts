/**
 * The RFC 8693 `act` claim as a delegation chain. The outermost `act` names
 * the current actor and each nested `act` the one before it (§4.1); a chain
 * here lists the agents from the first actor to the current one.
 */

const AGENT_ID = /^agt_[0-9a-z]{26}$/;
/** Deeper nesting than this is refused before any configured cap is looked at. */
const MAX_NESTING = 16;

/**
 * The agents of a token's `act` claim, first actor first; `[]` without `act`;
 * null when the claim is malformed (not nested objects with agent-id `sub`s).
 */
export function actChain(act: unknown): string[] | null {
  const chain: string[] = [];
  let node = act;
  while (node !== undefined) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return null;
    const { sub, act: inner } = node as { sub?: unknown; act?: unknown };
    if (typeof sub !== 'string' || !AGENT_ID.test(sub) || chain.length >= MAX_NESTING) return null;
    chain.push(sub);
    node = inner;
  }
  return chain.reverse();
}

/** The `act` claim for a chain (first actor first): the last agent outermost. */
export function actClaim(chain: readonly string[]): Record<string, unknown> | undefined {
  let act: Record<string, unknown> | undefined;
  for (const sub of chain) act = act ? { sub, act } : { sub };
  return act;
}
