import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import { type Actor, recordAuditEvent } from '../audit/index.js';
import { CustosError, notFound } from '../core/index.js';
import { type AgentKeyRecord, UniqueViolation } from '../storage/index.js';
import { requireAgentAccess, requireWriter } from './access.js';
import type { IdentityDeps } from './deps.js';

const DAY_MS = 86_400_000;
export const DEFAULT_AGENT_KEY_TTL_MS = 90 * DAY_MS;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** Algorithms an agent key may sign client assertions with, by key type. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  'EC:P-256': ['ES256'],
  'EC:P-384': ['ES384'],
  'OKP:Ed25519': ['EdDSA', 'Ed25519'],
  RSA: ['RS256', 'PS256'],
};

const bad = (detail: string) =>
  new CustosError('validation_failed', detail, { fields: [{ pointer: '/jwk', detail }] });

/**
 * Checks a JWK offered as an agent's public key and returns the algorithm it
 * will be used with. Refuses private or symmetric material, unsupported curves
 * and types, RSA under 2048 bits, an `alg` that does not fit the key, and keys
 * that do not import (e.g. a point not on the curve).
 */
export async function validatePublicJwk(jwk: Readonly<Record<string, unknown>>): Promise<string> {
  const present = PRIVATE_MEMBERS.filter((m) => m in jwk);
  if (present.length > 0) {
    throw bad(`the key holds private material (\`${present.join('`, `')}\`): register only the public key`);
  }
  const kty = jwk.kty;
  if (kty === 'oct') throw bad('symmetric keys cannot be registered: use an asymmetric key pair');
  const family = kty === 'RSA' ? 'RSA' : `${String(kty)}:${String(jwk.crv)}`;
  const algs = ALLOWED[family];
  if (!algs) throw bad(`unsupported key type \`${family}\`: use EC P-256/P-384, Ed25519 or RSA ≥ 2048 bits`);
  if (kty === 'RSA') {
    const bits = typeof jwk.n === 'string' ? Buffer.from(jwk.n, 'base64url').length * 8 : 0;
    if (bits < 2048) throw bad(`RSA key of ${bits} bits is too weak: at least 2048 bits are required`);
  }
  const alg = typeof jwk.alg === 'string' ? jwk.alg : algs[0];
  if (!alg || !algs.includes(alg)) throw bad(`\`alg\` \`${String(jwk.alg)}\` does not fit a ${family} key`);
  if (jwk.use !== undefined && jwk.use !== 'sig') throw bad('`use` must be `sig`');
  try {
    await importJWK(jwk as JWK, alg);
  } catch (error) {
    throw new CustosError('validation_failed', `the key does not import: ${(error as Error).message}`, {
      cause: error,
      fields: [{ pointer: '/jwk', detail: 'invalid key' }],
    });
  }
  return alg === 'Ed25519' ? 'EdDSA' : alg;
}

export interface AddAgentKeyInput {
  readonly jwk: Readonly<Record<string, unknown>>;
  readonly expiresAt?: number | undefined;
}

/**
 * Registers a public key for an agent. The key id is the JWK's `kid` when it
 * has one, else its RFC 7638 thumbprint. Only the public members are stored.
 */
export async function addAgentKey(
  deps: IdentityDeps,
  actor: Actor,
  agentId: string,
  input: AddAgentKeyInput,
): Promise<AgentKeyRecord> {
  requireWriter(actor, 'register agent keys', true);
  const alg = await validatePublicJwk(input.jwk);
  const thumbprint = await calculateJwkThumbprint(input.jwk as JWK, 'sha256');
  const kid = typeof input.jwk.kid === 'string' && input.jwk.kid !== '' ? input.jwk.kid : thumbprint;
  const publicJwk = Object.fromEntries(
    Object.entries(input.jwk).filter(([m]) => ['kty', 'crv', 'x', 'y', 'n', 'e'].includes(m)),
  );
  return deps.store.transaction(async (tx) => {
    const agent = await tx.agents.get(agentId, { lock: true });
    if (!agent) throw notFound('agent', agentId);
    requireAgentAccess(actor, agent);
    if (agent.status === 'decommissioned') {
      throw new CustosError('invalid_transition', `agent \`${agentId}\` is decommissioned`);
    }
    const now = deps.clock.now();
    const expiresAt = input.expiresAt ?? now + DEFAULT_AGENT_KEY_TTL_MS;
    if (expiresAt <= now) {
      throw new CustosError('validation_failed', '`expiresAt` must be in the future', {
        fields: [{ pointer: '/expiresAt', detail: 'must be in the future' }],
      });
    }
    const record: AgentKeyRecord = {
      agentId,
      kid,
      alg,
      jwk: { ...publicJwk, kid, alg },
      thumbprint,
      createdAt: now,
      expiresAt,
      revokedAt: null,
    };
    try {
      await tx.agentKeys.insert(record);
    } catch (error) {
      if (error instanceof UniqueViolation) {
        throw new CustosError('conflict', `agent \`${agentId}\` already has a key \`${kid}\``, {
          cause: error,
        });
      }
      throw error;
    }
    await tx.notify({ topic: 'agent_key', id: agentId });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'agent_key.add',
      target: { type: 'agent', id: agentId },
      details: { kid, alg, thumbprint, expiresAt },
    });
    return record;
  });
}

export async function listAgentKeys(
  deps: IdentityDeps,
  actor: Actor,
  agentId: string,
): Promise<readonly AgentKeyRecord[]> {
  const agent = await deps.store.agents.get(agentId);
  if (!agent) throw notFound('agent', agentId);
  requireAgentAccess(actor, agent);
  return deps.store.agentKeys.list(agentId);
}

/** Revokes an agent key; tokens obtained with it become inactive at once. */
export async function revokeAgentKey(
  deps: IdentityDeps,
  actor: Actor,
  agentId: string,
  kid: string,
): Promise<AgentKeyRecord> {
  requireWriter(actor, 'revoke agent keys', true);
  return deps.store.transaction(async (tx) => {
    const agent = await tx.agents.get(agentId);
    if (!agent) throw notFound('agent', agentId);
    requireAgentAccess(actor, agent);
    const existing = await tx.agentKeys.get(agentId, kid);
    if (!existing) throw notFound('key', kid);
    const revoked = await tx.agentKeys.revoke(agentId, kid, deps.clock.now());
    if (!revoked) throw new CustosError('invalid_transition', `key \`${kid}\` is already revoked`);
    const revokedTokens = await tx.issuedTokens.revokeForAgent(agentId, deps.clock.now(), `key:${kid}`);
    await tx.notify({ topic: 'agent_key', id: agentId });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'agent_key.revoke',
      target: { type: 'agent', id: agentId },
      details: { kid, thumbprint: existing.thumbprint, revokedTokens },
    });
    return revoked;
  });
}
