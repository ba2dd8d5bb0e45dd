import { createHash } from 'node:crypto';
import { decodeJwt, type JWTPayload } from 'jose';
import type { DecisionRequest } from '../policy/index.js';
import type { AgentRecord, ConsentRecord, UserRecord } from '../storage/index.js';
import { actChain, actClaim } from './act-chain.js';
import type { AuthenticatedClient } from './client-auth.js';
import type { OAuthDeps, OAuthRequest, OAuthResponse } from './deps.js';
import type { VerifiedProof } from './dpop.js';
import { type Form, one } from './form.js';
import {
  agentActor,
  candidates,
  type Decided,
  issueToken,
  recordRefusedDecision,
  requestedResources,
  requestedScopes,
} from './grant-steps.js';
import { personFromProviderToken } from './identity-providers.js';
import { hasControlCharacter } from './jwt-claims.js';
import { OAuthError } from './oauth-error.js';
import { verifyIssuedToken } from './verify-issued-token.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TYPE = 'urn:ietf:params:oauth:token-type:';
const ACCESS_TOKEN = `${TYPE}access_token`;
/** What a person's token from a trusted provider may be presented as. */
const PROVIDER_TYPES = new Set([`${TYPE}id_token`, `${TYPE}jwt`, ACCESS_TOKEN]);
/** What a Custos-issued delegated token may be presented as. */
const CUSTOS_TYPES = new Set([`${TYPE}jwt`, ACCESS_TOKEN]);

/** RFC 8693 §2.2.2: a subject token that is invalid or unacceptable by policy is `invalid_request`. */
const refuse = (description: string, cause?: unknown) =>
  new OAuthError('invalid_request', description, {}, cause === undefined ? undefined : { cause });

/** Who the token is for and through whom, once the subject token checked out. */
interface Subject {
  readonly person: UserRecord;
  /** Agents that already act for the person (first actor first); empty for a provider token. */
  readonly chain: readonly string[];
  /** The consent a Custos-issued subject token derives from. */
  readonly consentId: string | null;
  /** The scopes the subject token carries, which a new token can only narrow (null: no bound). */
  readonly scopes: readonly string[] | null;
  /** A parent token's audiences, which a sub-agent's token can only narrow (null: no bound). */
  readonly audiences: readonly string[] | null;
  /** Epoch ms past which a token derived from it must not live (the subject token's expiry). */
  readonly notAfter: number | null;
  readonly claims: JWTPayload;
  /** Where the subject token came from, for the record. */
  readonly source: {
    readonly issuer: string;
    readonly provider: string | null;
    readonly tokenId: string | null;
  };
}

function scopesOf(claims: JWTPayload): string[] | null {
  if (typeof claims.scope === 'string') return claims.scope.split(' ').filter((s) => s !== '');
  if (Array.isArray(claims.scp)) return claims.scp.filter((s): s is string => typeof s === 'string');
  return null;
}

/** Verifies the subject token: a delegated Custos access token, or a person's token from a trusted provider. */
async function resolveSubject(deps: OAuthDeps, form: Form): Promise<Subject> {
  const token = one(form, 'subject_token');
  const type = one(form, 'subject_token_type');
  if (!token) throw refuse('missing `subject_token`');
  if (!type) throw refuse('missing `subject_token_type`');
  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(token);
  } catch (error) {
    throw refuse('the subject token is not a well-formed JWT', error);
  }
  if (typeof unverified.iss !== 'string') throw refuse('the subject token has no `iss`');

  if (unverified.iss === deps.issuer) {
    if (!CUSTOS_TYPES.has(type))
      throw refuse(`a Custos subject token must have \`subject_token_type\` \`${ACCESS_TOKEN}\``);
    const active = await verifyIssuedToken(deps, token);
    if (!active) throw refuse('the subject token is not an active Custos access token');
    const chain = actChain(active.claims.act);
    if (chain === null) throw refuse('the subject token has a malformed `act` claim');
    if (chain.length === 0 || !active.record.consentId)
      throw refuse('the subject token does not act for a person (it has no `act` claim)');
    const person = await deps.store.users.get(String(active.claims.sub));
    if (!person) throw refuse('the person the subject token acts for no longer exists');
    if (person.status !== 'active') throw refuse('the person the subject token acts for is deactivated');
    return {
      person,
      chain,
      consentId: active.record.consentId,
      scopes: scopesOf(active.claims) ?? [],
      audiences:
        typeof active.claims.aud === 'string'
          ? [active.claims.aud]
          : Array.isArray(active.claims.aud)
            ? active.claims.aud
            : [],
      notAfter: active.record.expiresAt,
      claims: active.claims,
      source: { issuer: deps.issuer, provider: null, tokenId: active.record.jti },
    };
  }

  // no trusted issuer has a control character in its name (and PostgreSQL refuses NUL in a look-up)
  const provider = hasControlCharacter(unverified.iss)
    ? null
    : await deps.store.identityProviders.getByIssuer(unverified.iss);
  if (!provider) throw refuse(`the subject token's issuer \`${unverified.iss}\` is not trusted`);
  if (!PROVIDER_TYPES.has(type)) {
    throw refuse(
      `\`subject_token_type\` \`${type}\` is not supported: use \`${TYPE}id_token\`, \`${TYPE}jwt\` or \`${ACCESS_TOKEN}\``,
    );
  }
  let found: Awaited<ReturnType<typeof personFromProviderToken>>;
  try {
    found = await personFromProviderToken(
      { store: deps.store, clock: deps.clock, leewaySeconds: deps.dpop.leewaySeconds },
      provider,
      token,
    );
  } catch (error) {
    if (error instanceof OAuthError) throw refuse(error.description, error);
    throw error;
  }
  return {
    person: found.user,
    chain: [],
    consentId: null,
    scopes: scopesOf(found.claims),
    audiences: null,
    // a delegated token never outlives the person's token it came from
    notAfter: typeof found.claims.exp === 'number' ? found.claims.exp * 1000 : null,
    claims: found.claims,
    source: { issuer: provider.issuer, provider: provider.id, tokenId: null },
  };
}

/** RFC 8693 §4.4: when the subject token names who may act, the client must be that party. */
function checkMayAct(deps: OAuthDeps, subject: Subject, agent: AgentRecord): void {
  const mayAct = subject.claims.may_act;
  if (mayAct === undefined) return;
  if (typeof mayAct !== 'object' || mayAct === null || Array.isArray(mayAct))
    throw refuse('the subject token has a malformed `may_act` claim');
  const { sub, iss } = mayAct as { sub?: unknown; iss?: unknown };
  if (iss !== undefined && iss !== deps.issuer)
    throw refuse("the subject token's `may_act` names an actor of another issuer");
  if (sub !== agent.id)
    throw refuse(`the subject token's \`may_act\` does not name this client (\`${agent.id}\`)`);
}

/** The consent the new token derives from: the chain's, or the person's newest one for this agent. */
async function findConsent(
  deps: OAuthDeps,
  subject: Subject,
  agent: AgentRecord,
  requested: readonly string[] | null,
): Promise<ConsentRecord> {
  const now = deps.clock.now();
  const who = subject.person.email;
  if (subject.consentId) {
    const consent = await deps.store.consents.get(subject.consentId);
    if (!consent || consent.revokedAt !== null)
      throw refuse('the consent the subject token derives from has been revoked');
    if (consent.expiresAt <= now) throw refuse('the consent the subject token derives from has expired');
    return consent;
  }
  const active = await deps.store.consents.active(subject.person.id, agent.id, now);
  if (active.length === 0) throw refuse(`${who} has not consented to agent \`${agent.id}\` acting for them`);
  // the newest consent that covers every requested scope, else the newest (its scope check refuses)
  return (
    (requested && active.find((c) => requested.every((s) => c.scopes.includes(s)))) ??
    (active[0] as ConsentRecord)
  );
}

/** Records the refused decision behind a refusal before it is answered. */
type RecordRefusal = (decisions: readonly Decided[]) => Promise<void>;

/**
 * Step: the scopes. Each must be in the consent, within what the subject token
 * holds, allowed to the agent (`token:issue`), delegable by the person and this
 * hop allowed (`token:exchange` for the person and for the agent, with the
 * chain in `context.delegation`). None requested: every candidate that passes.
 */
async function grantDelegatedScopes(
  deps: OAuthDeps,
  requested: readonly string[] | null,
  agent: AgentRecord,
  subject: Subject,
  consent: ConsentRecord,
  context: Record<string, unknown>,
  recordRefusal: RecordRefusal,
): Promise<{ values: string[]; decisions: Decided[] }> {
  const decisions: Decided[] = [];
  const decide = async (request: DecisionRequest) => {
    const decision = await deps.policy.decide(request);
    decisions.push({ request, decision });
    return decision.allowed;
  };
  const why = async (scope: string): Promise<string | null> => {
    if (!consent.scopes.includes(scope)) return `scope \`${scope}\` is not covered by the person's consent`;
    if (subject.scopes !== null && !subject.scopes.includes(scope))
      return `scope \`${scope}\` is more than the subject token holds`;
    const resource = { type: 'Scope', id: scope };
    if (!(await decide({ principal: { type: 'Agent', id: agent.id }, action: 'token:issue', resource })))
      return `scope \`${scope}\` is not allowed for this client`;
    if (
      !(await decide({
        principal: { type: 'User', id: subject.person.id },
        action: 'token:exchange',
        resource,
        context,
      }))
    )
      return `the person may not delegate scope \`${scope}\``;
    if (
      !(await decide({
        principal: { type: 'Agent', id: agent.id },
        action: 'token:exchange',
        resource,
        context,
      }))
    )
      return `policy does not let this client act for the person with scope \`${scope}\``;
    return null;
  };
  if (requested === null) {
    const candidates = subject.scopes ?? consent.scopes;
    const values: string[] = [];
    for (const scope of candidates) if ((await why(scope)) === null) values.push(scope);
    return { values, decisions };
  }
  for (const scope of requested) {
    const reason = await why(scope);
    if (reason) {
      await recordRefusal(decisions);
      throw new OAuthError('invalid_scope', reason);
    }
  }
  return { values: [...requested], decisions };
}

/**
 * Step: the audience. Each `resource` (RFC 8707) or `audience` (RFC 8693)
 * needs `token:issue` for the agent and `token:exchange` for this hop, and for
 * a sub-agent must be an audience of the parent token (audiences only narrow,
 * like scopes). None named: the one audience the agent may get, if there is
 * exactly one.
 */
async function grantDelegatedAudience(
  deps: OAuthDeps,
  form: Form,
  agent: AgentRecord,
  context: Record<string, unknown>,
  bound: readonly string[] | null,
  recordRefusal: RecordRefusal,
): Promise<{ values: string[]; decisions: Decided[] }> {
  const decisions: Decided[] = [];
  const named = [...new Set([...requestedResources(form), ...(form.get('audience') ?? [])])];
  const allowed = async (id: string) => {
    const resource = { type: 'Audience', id };
    for (const request of [
      { principal: { type: 'Agent', id: agent.id }, action: 'token:issue', resource },
      { principal: { type: 'Agent', id: agent.id }, action: 'token:exchange', resource, context },
    ]) {
      const decision = await deps.policy.decide(request);
      decisions.push({ request, decision });
      if (!decision.allowed) return false;
    }
    return true;
  };
  if (named.length > 0) {
    for (const id of named) {
      if (bound !== null && !bound.includes(id)) {
        throw new OAuthError('invalid_target', `resource \`${id}\` is not an audience of the subject token`);
      }
      if (!(await allowed(id))) {
        await recordRefusal(decisions);
        throw new OAuthError('invalid_target', `resource \`${id}\` is not allowed for this client`);
      }
    }
    return { values: named, decisions };
  }
  const values: string[] = [];
  for (const id of bound ?? (await candidates(deps, agent, 'Audience')))
    if (await allowed(id)) values.push(id);
  if (values.length === 1) return { values, decisions };
  throw new OAuthError(
    'invalid_target',
    values.length === 0
      ? 'this client may not get delegated tokens for any resource'
      : 'name the `resource` to get a token for',
  );
}

/** What the grant handler of the token endpoint provides. */
export interface ExchangeInput {
  readonly form: Form;
  readonly client: AuthenticatedClient;
  readonly proof: VerifiedProof | null;
}

/**
 * RFC 8693 token exchange: an agent (the authenticated client) presents a
 * person's token — from a trusted identity provider, or a delegated Custos
 * token for a further hop — and gets an access token with `sub` = the person
 * and `act` naming the chain of agents, current actor outermost. The scope is
 * at most the agent's grants ∩ the person's rights ∩ the consent ∩ what the
 * subject token holds; the chain is capped; every hop is decided by policy.
 */
export async function handleTokenExchange(
  deps: OAuthDeps,
  request: OAuthRequest,
  input: ExchangeInput,
): Promise<OAuthResponse> {
  const { form, client, proof } = input;
  const agent = client.agent;
  if (form.has('actor_token') || form.has('actor_token_type')) {
    throw refuse('`actor_token` is not accepted: the actor is the authenticated client');
  }
  const wanted = one(form, 'requested_token_type');
  if (wanted !== undefined && wanted !== ACCESS_TOKEN && wanted !== `${TYPE}jwt`) {
    throw refuse(
      `\`requested_token_type\` \`${wanted}\` is not supported: Custos issues \`${ACCESS_TOKEN}\``,
    );
  }
  const requested = requestedScopes(form);
  const subject = await resolveSubject(deps, form);
  checkMayAct(deps, subject, agent);
  const last = subject.chain.at(-1);
  if (last !== agent.id && subject.chain.includes(agent.id))
    throw refuse(`agent \`${agent.id}\` already appears in the delegation chain`);
  const chain = last === agent.id ? [...subject.chain] : [...subject.chain, agent.id];
  if (chain.length > deps.delegationMaxDepth) {
    throw refuse(
      `the delegation chain would hold ${chain.length} agents; at most ${deps.delegationMaxDepth} are allowed`,
    );
  }
  const consent = await findConsent(deps, subject, agent, requested);
  const context = {
    delegation: {
      person: { __entity: { type: 'User', id: subject.person.id } },
      chain: chain.map((id) => ({ __entity: { type: 'Agent', id } })),
      depth: chain.length,
      consent: consent.id,
    },
  };
  const actor = agentActor(agent.id, request.requestId, { userId: subject.person.id, chain });
  const recordRefusal: RecordRefusal = async (decisions) => {
    const refused = decisions.findLast((d) => !d.decision.allowed);
    if (refused) await recordRefusedDecision(deps, actor, refused);
  };
  const scopes = await grantDelegatedScopes(deps, requested, agent, subject, consent, context, recordRefusal);
  const audience = await grantDelegatedAudience(deps, form, agent, context, subject.audiences, recordRefusal);

  const now = deps.clock.now();
  const limit = Math.min(consent.expiresAt, subject.notAfter ?? Number.POSITIVE_INFINITY);
  const ttlSeconds = Math.min(deps.accessTokenTtlSeconds, Math.floor((limit - now) / 1000));
  if (ttlSeconds < 1) throw refuse('the consent or subject token expires too soon to issue a token');
  const body = await issueToken(deps, request, client, proof, {
    subject: subject.person.id,
    audience: audience.values,
    scopes: scopes.values,
    ttlSeconds,
    act: actClaim(chain),
    decisions: [...scopes.decisions, ...audience.decisions],
    record: { subject: subject.person.id, consentId: consent.id },
    audit: {
      actor,
      action: 'token.exchange',
      target: { type: 'user', id: subject.person.id },
      grantType: TOKEN_EXCHANGE,
      details: {
        person: subject.person.id,
        chain,
        consentId: consent.id,
        subjectToken: {
          issuer: subject.source.issuer,
          provider: subject.source.provider,
          tokenId: subject.source.tokenId,
          // a thumbprint, never the token
          sha256: createHash('sha256')
            .update(one(form, 'subject_token') ?? '')
            .digest('base64url'),
        },
      },
    },
  });
  return { status: 200, body: { ...body, issued_token_type: ACCESS_TOKEN } };
}
