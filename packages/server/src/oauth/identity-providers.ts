import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type JWK,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { type Actor, recordAuditEvent } from '../audit/index.js';
import { type Clock, CustosError, newId, notFound } from '../core/index.js';
import type { IdentityDeps } from '../identity/index.js';
import { requireAdmin, validatePublicJwk } from '../identity/index.js';
import {
  type IdentityProviderRecord,
  type Store,
  UniqueViolation,
  type UserRecord,
} from '../storage/index.js';
import { ASSERTION_ALGS } from './client-auth.js';
import { OAuthError } from './oauth-error.js';

export interface AddIdentityProviderInput {
  readonly issuer: string;
  readonly jwks?: { readonly keys: readonly Record<string, unknown>[] } | undefined;
  readonly jwksUri?: string | undefined;
  readonly audience: string;
  readonly claim?: 'sub' | 'email' | undefined;
  readonly jitUsers?: boolean | undefined;
}

const field = (pointer: string, detail: string) =>
  new CustosError('validation_failed', detail, { fields: [{ pointer, detail }] });

/** Trusts an OpenID provider for people: its tokens may be RFC 8693 subject tokens. */
export async function addIdentityProvider(
  deps: IdentityDeps,
  actor: Actor,
  input: AddIdentityProviderInput,
): Promise<IdentityProviderRecord> {
  requireAdmin(actor, 'trust identity providers');
  if ((input.jwks === undefined) === (input.jwksUri === undefined)) {
    throw field('/jwks', 'give exactly one of `jwks` (inline) or `jwksUri`');
  }
  for (const [i, key] of (input.jwks?.keys ?? []).entries()) {
    try {
      await validatePublicJwk(key);
    } catch (error) {
      throw field(`/jwks/keys/${i}`, error instanceof Error ? error.message : 'invalid key');
    }
  }
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const record: IdentityProviderRecord = {
      id: newId('idp', now),
      issuer: input.issuer,
      jwks: input.jwks ?? null,
      jwksUri: input.jwksUri ?? null,
      audience: input.audience,
      claim: input.claim ?? 'email',
      jitUsers: input.jitUsers ?? false,
      createdAt: now,
    };
    try {
      await tx.identityProviders.insert(record);
    } catch (error) {
      if (error instanceof UniqueViolation) {
        throw new CustosError('conflict', `identity provider \`${input.issuer}\` is already trusted`, {
          cause: error,
        });
      }
      throw error;
    }
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'idp.add',
      target: { type: 'identity_provider', id: record.id },
      details: {
        issuer: record.issuer,
        audience: record.audience,
        claim: record.claim,
        jitUsers: record.jitUsers,
      },
    });
    return record;
  });
}

export async function listIdentityProviders(
  deps: IdentityDeps,
  actor: Actor,
): Promise<readonly IdentityProviderRecord[]> {
  if (actor.role === 'owner') requireAdmin(actor, 'list identity providers');
  return deps.store.identityProviders.list();
}

export async function removeIdentityProvider(deps: IdentityDeps, actor: Actor, id: string): Promise<void> {
  requireAdmin(actor, 'remove identity providers');
  await deps.store.transaction(async (tx) => {
    if (!(await tx.identityProviders.delete(id))) throw notFound('identity provider', id);
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'idp.remove',
      target: { type: 'identity_provider', id },
    });
  });
}

const remoteSets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
/** Inline key sets by provider id and exact JWKS text: a set imports each key once, not once per token. */
const localSets = new Map<string, { text: string; keys: ReturnType<typeof createLocalJWKSet> }>();

function localSet(provider: IdentityProviderRecord): ReturnType<typeof createLocalJWKSet> {
  const text = JSON.stringify(provider.jwks);
  const cached = localSets.get(provider.id);
  if (cached?.text === text) return cached.keys;
  const keys = createLocalJWKSet(provider.jwks as { keys: JWK[] });
  if (localSets.size > 1000) localSets.clear();
  localSets.set(provider.id, { text, keys });
  return keys;
}

/**
 * Verifies a person's token from a trusted provider (signature, `iss`, `aud` =
 * the provider's audience, `exp`) and finds the Custos user it names, creating
 * one when the provider allows just-in-time users. Failures are `invalid_grant`
 * (RFC 8693 §2.2.2) with a precise description.
 */
export async function personFromProviderToken(
  deps: { store: Store; clock: Clock; leewaySeconds: number },
  provider: IdentityProviderRecord,
  token: string,
): Promise<{ user: UserRecord; claims: JWTPayload }> {
  let claims: JWTPayload;
  try {
    let keys = provider.jwks ? null : remoteSets.get(provider.id);
    if (!provider.jwks && !keys) {
      keys = createRemoteJWKSet(new URL(provider.jwksUri as string), { cooldownDuration: 30_000 });
      remoteSets.set(provider.id, keys);
    }
    ({ payload: claims } = await jwtVerify(
      token,
      provider.jwks ? localSet(provider) : (keys as ReturnType<typeof createRemoteJWKSet>),
      {
        issuer: provider.issuer,
        audience: provider.audience,
        algorithms: [...ASSERTION_ALGS],
        clockTolerance: deps.leewaySeconds,
        currentDate: new Date(deps.clock.now()),
        requiredClaims: ['exp', 'sub'],
      },
    ));
  } catch (error) {
    const reason =
      error instanceof joseErrors.JWTExpired
        ? 'subject token has expired'
        : error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud'
          ? 'subject token is for another audience'
          : 'subject token does not verify';
    throw new OAuthError('invalid_grant', reason, {}, { cause: error });
  }
  const email = typeof claims.email === 'string' ? claims.email.toLowerCase() : null;
  let user: UserRecord | null = null;
  if (provider.claim === 'email') {
    if (!email) throw new OAuthError('invalid_grant', 'subject token has no `email` claim');
    user = await deps.store.users.getByEmail(email);
  } else {
    const userId = await deps.store.identityProviders.userFor(provider.id, String(claims.sub));
    user = userId ? await deps.store.users.get(userId) : null;
  }
  if (!user && provider.jitUsers && email) {
    user = await createJitUser(
      deps,
      provider,
      String(claims.sub),
      email,
      typeof claims.name === 'string' ? claims.name : email,
    );
  }
  if (!user) throw new OAuthError('invalid_grant', 'the subject token names no known person');
  if (user.status !== 'active') throw new OAuthError('invalid_grant', 'the person is deactivated');
  return { user, claims };
}

async function createJitUser(
  deps: { store: Store; clock: Clock },
  provider: IdentityProviderRecord,
  subject: string,
  email: string,
  name: string,
): Promise<UserRecord> {
  const now = deps.clock.now();
  const user: UserRecord = {
    id: newId('usr', now),
    email,
    name,
    status: 'active',
    managerId: null,
    createdAt: now,
    updatedAt: now,
  };
  try {
    await deps.store.transaction(async (tx) => {
      await tx.users.insert(user);
      await tx.identityProviders.link(provider.id, subject, user.id);
      await recordAuditEvent(
        tx,
        deps.clock,
        { type: 'system', id: 'custos', role: 'admin', userId: null, requestId: null },
        {
          action: 'user.create',
          target: { type: 'user', id: user.id },
          reason: `just-in-time from identity provider ${provider.id}`,
          details: { email, name },
        },
      );
    });
    return user;
  } catch (error) {
    // another request created the same person first
    if (error instanceof UniqueViolation) {
      const existing = await deps.store.users.getByEmail(email);
      if (existing) return existing;
    }
    throw error;
  }
}
