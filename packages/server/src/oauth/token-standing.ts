import type { AgentRecord, ConsentRecord, IssuedTokenRecord, Store } from '../storage/index.js';

/** Whether what an issued token rests on still stands, and until when. */
export type TokenStanding =
  | { readonly ok: false; readonly reason: string }
  | {
      readonly ok: true;
      readonly agent: AgentRecord;
      /** The consent of a delegated token (null otherwise). */
      readonly consent: ConsentRecord | null;
      /** The earliest expiry among the agent, and for a delegated token its consent and every chain agent. */
      readonly validUntil: number;
    };

/**
 * The one rule for "is this token Custos issued still good", apart from its own
 * signature and time claims: not revoked; its agent exists and is active; the
 * credential it was obtained with (agent key or federated issuer) still
 * stands; and for a delegated token, its person is active, its consent is not
 * revoked, and every agent of its chain (`chain`, from the token's signed `act`;
 * null when unknown, which fails closed) is active. Expiries are returned in
 * `validUntil` for the caller to compare with its clock (the gateway caches
 * standings). Used by introspection and every `verifyIssuedToken` caller, and
 * by the gateway's revocation check.
 */
export async function tokenStanding(
  store: Store,
  record: IssuedTokenRecord,
  chain: readonly string[] | null,
): Promise<TokenStanding> {
  const no = (reason: string): TokenStanding => ({ ok: false, reason });
  if (record.revokedAt !== null) return no('the token has been revoked');
  const agent = await store.agents.get(record.agentId, { tags: false });
  if (!agent) return no('the agent no longer exists');
  if (agent.status !== 'active') return no(`the agent is ${agent.status}`);
  const [kind, ref] = record.credential.split(/:(.*)/s) as [string, string];
  if (kind === 'key') {
    const key = await store.agentKeys.get(record.agentId, ref);
    if (!key || key.revokedAt !== null) return no('the key the token was obtained with has been revoked');
  } else if (kind === 'federation') {
    const issuers = await store.federatedIssuers.list();
    if (!issuers.some((i) => i.id === ref)) return no('the federated issuer is no longer trusted');
  }
  if (!record.subject) return { ok: true, agent, consent: null, validUntil: agent.expiresAt };
  if (chain === null) return no('its delegation chain is not known here');
  if (chain.at(-1) !== agent.id) return no('its delegation chain does not end with its agent');
  const person = await store.users.get(record.subject);
  if (person?.status !== 'active') return no('the person it acts for is deactivated');
  const consent = record.consentId ? await store.consents.get(record.consentId) : null;
  if (!consent || consent.revokedAt !== null) return no('the consent it derives from has been revoked');
  let validUntil = Math.min(agent.expiresAt, consent.expiresAt);
  for (const id of chain.slice(0, -1)) {
    const other = await store.agents.get(id, { tags: false });
    if (other?.status !== 'active')
      return no(`agent \`${id}\` of its delegation chain is ${other?.status ?? 'gone'}`);
    validUntil = Math.min(validUntil, other.expiresAt);
  }
  return { ok: true, agent, consent, validUntil };
}
