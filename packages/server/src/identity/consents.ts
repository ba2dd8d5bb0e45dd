import { type Actor, recordAuditEvent } from '../audit/index.js';
import { CustosError, newId, notFound } from '../core/index.js';
import type { ConsentRecord } from '../storage/index.js';
import type { IdentityDeps } from './deps.js';
import { resolveUser } from './users.js';

export interface GrantConsentInput {
  /** The person (id or email). */
  readonly user: string;
  readonly agent: string;
  readonly scopes: readonly string[];
  /** Tools (`server/tool`, or `server/*`) the agent may call for the person; absent: not limited by the consent. */
  readonly tools?: readonly string[] | undefined;
  /** Epoch ms. */
  readonly expiresAt: number;
}

/**
 * Records that a person lets an agent act on their behalf for `scopes` until
 * `expiresAt`. An admin may record it for anyone; an `owner` token only for its
 * own user (the person consenting is the token's human).
 */
export async function grantConsent(
  deps: IdentityDeps,
  actor: Actor,
  input: GrantConsentInput,
): Promise<ConsentRecord> {
  if (actor.role !== 'admin' && actor.role !== 'owner') {
    throw new CustosError('forbidden', `${actor.role} tokens cannot record consents`);
  }
  return deps.store.transaction(async (tx) => {
    const user = await resolveUser(tx, input.user, 'user');
    if (actor.role === 'owner' && user.id !== actor.userId) {
      throw new CustosError('forbidden', 'owner tokens can only consent for their own user');
    }
    if (user.status !== 'active') {
      throw new CustosError('validation_failed', `user \`${input.user}\` is deactivated`, {
        fields: [{ pointer: '/user', detail: 'user is deactivated' }],
      });
    }
    const agent = await tx.agents.get(input.agent, { tags: false });
    if (!agent) {
      throw new CustosError('validation_failed', `unknown agent \`${input.agent}\``, {
        fields: [{ pointer: '/agent', detail: 'unknown agent' }],
      });
    }
    const now = deps.clock.now();
    if (input.expiresAt <= now) {
      throw new CustosError('validation_failed', '`expiresAt` must be in the future', {
        fields: [{ pointer: '/expiresAt', detail: 'must be in the future' }],
      });
    }
    const consent: ConsentRecord = {
      id: newId('cns', now),
      userId: user.id,
      agentId: agent.id,
      scopes: [...new Set(input.scopes)],
      createdBy: actor.id,
      createdAt: now,
      expiresAt: input.expiresAt,
      revokedAt: null,
      tools: input.tools ? [...new Set(input.tools)] : null,
    };
    await tx.consents.insert(consent);
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'consent.grant',
      target: { type: 'agent', id: agent.id },
      details: {
        consentId: consent.id,
        userId: user.id,
        scopes: consent.scopes,
        ...(consent.tools ? { tools: consent.tools } : {}),
        expiresAt: consent.expiresAt,
      },
    });
    return consent;
  });
}

export async function listConsents(
  deps: IdentityDeps,
  actor: Actor,
  filter: { user?: string | undefined; agent?: string | undefined },
): Promise<readonly ConsentRecord[]> {
  const userId =
    filter.user === undefined ? undefined : (await resolveUser(deps.store, filter.user, 'user')).id;
  if (actor.role === 'owner' && userId !== undefined && userId !== actor.userId) {
    throw new CustosError('forbidden', 'owner tokens can only list their own consents');
  }
  const scopedUser = actor.role === 'owner' ? (actor.userId ?? '') : userId;
  return deps.store.consents.list({
    ...(scopedUser !== undefined ? { userId: scopedUser } : {}),
    ...(filter.agent !== undefined ? { agentId: filter.agent } : {}),
  });
}

/**
 * Withdraws a consent at once: every token derived from it is revoked in the
 * same transaction, and gateways hear it through the change feed.
 */
export async function revokeConsent(deps: IdentityDeps, actor: Actor, id: string): Promise<ConsentRecord> {
  return deps.store.transaction(async (tx) => {
    const existing = await tx.consents.get(id);
    if (!existing) throw notFound('consent', id);
    if (actor.role === 'owner' ? existing.userId !== actor.userId : actor.role !== 'admin') {
      throw new CustosError('forbidden', 'only an admin or the consenting person can revoke a consent');
    }
    const now = deps.clock.now();
    const revoked = await tx.consents.revoke(id, now);
    if (!revoked) throw new CustosError('invalid_transition', `consent \`${id}\` is already revoked`);
    const revokedTokens = await tx.issuedTokens.revokeForConsent(id, now);
    await tx.notify({ topic: 'token', id: `consent:${id}` });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'consent.revoke',
      target: { type: 'agent', id: existing.agentId },
      details: { consentId: id, userId: existing.userId, revokedTokens },
    });
    return revoked;
  });
}
