import { createHash, randomBytes } from 'node:crypto';
import { formatCredential, parseCredential } from '@custos/sdk';
import { type Actor, recordAuditEvent, SYSTEM_ACTOR } from '../audit/index.js';
import { CustosError, newId, notFound } from '../core/index.js';
import {
  type AdminRole,
  type AdminTokenRecord,
  type Page,
  type PageRequest,
  StoreUnavailable,
  UniqueViolation,
} from '../storage/index.js';
import { requireAdmin } from './access.js';
import type { IdentityDeps } from './deps.js';
import { resolveUser } from './users.js';

/** Admin tokens are `cst_pat_…` credentials (see `@custos/sdk` for the format). */
export const ADMIN_TOKEN_KIND = 'pat';
const TOUCH_INTERVAL_MS = 60_000;

/** Only this hash is stored; tokens carry ~190 random bits, so an unsalted hash is safe. */
export function hashAdminToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A fresh admin token string (not stored anywhere). */
export function generateAdminToken(): string {
  return formatCredential(ADMIN_TOKEN_KIND, randomBytes(64));
}

/** True when `token` is a well-formed admin token with a valid checksum. */
export function isAdminTokenFormat(token: string): boolean {
  const parsed = parseCredential(token);
  return parsed.ok && parsed.kind === ADMIN_TOKEN_KIND;
}

export interface CreateAdminTokenInput {
  readonly name: string;
  readonly role: AdminRole;
  /** Id or email of the human the token acts for; required for `owner`. */
  readonly user?: string | undefined;
  readonly expiresAt?: number | undefined;
}

/**
 * Issues an admin token. The token is returned once and only its hash is kept.
 */
export async function createAdminToken(
  deps: IdentityDeps,
  actor: Actor,
  input: CreateAdminTokenInput,
): Promise<{ record: AdminTokenRecord; token: string }> {
  requireAdmin(actor, 'create tokens');
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const user = input.user === undefined ? null : await resolveUser(tx, input.user, 'user');
    if (input.role === 'owner' && !user) {
      throw new CustosError('validation_failed', 'an `owner` token needs a `user`', {
        fields: [{ pointer: '/user', detail: 'required for role `owner`' }],
      });
    }
    if (user && user.status !== 'active') {
      throw new CustosError('validation_failed', `user \`${input.user}\` is deactivated`, {
        fields: [{ pointer: '/user', detail: 'user is deactivated' }],
      });
    }
    const expiresAt = input.expiresAt ?? now + deps.settings.adminTokenDefaultTtlMs;
    if (expiresAt <= now) {
      throw new CustosError('validation_failed', '`expiresAt` must be in the future', {
        fields: [{ pointer: '/expiresAt', detail: 'must be in the future' }],
      });
    }
    const token = generateAdminToken();
    const record: AdminTokenRecord = {
      id: newId('tok', now),
      name: input.name,
      tokenHash: hashAdminToken(token),
      role: input.role,
      userId: user?.id ?? null,
      createdBy: actor.id,
      createdAt: now,
      expiresAt,
      revokedAt: null,
      lastUsedAt: null,
    };
    await tx.adminTokens.insert(record);
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'admin_token.create',
      target: { type: 'admin_token', id: record.id },
      details: { name: record.name, role: record.role, userId: record.userId, expiresAt },
    });
    return { record, token };
  });
}

export async function listAdminTokens(
  deps: IdentityDeps,
  actor: Actor,
  request: PageRequest,
): Promise<Page<AdminTokenRecord>> {
  requireAdmin(actor, 'list tokens');
  return deps.store.adminTokens.list(request);
}

/** Revokes a token; effective for the very next request that presents it. */
export async function revokeAdminToken(
  deps: IdentityDeps,
  actor: Actor,
  id: string,
): Promise<AdminTokenRecord> {
  requireAdmin(actor, 'revoke tokens');
  return deps.store.transaction(async (tx) => {
    const existing = await tx.adminTokens.get(id);
    if (!existing) throw notFound('token', id);
    const revoked = await tx.adminTokens.revoke(id, deps.clock.now());
    if (!revoked) throw new CustosError('invalid_transition', `token \`${id}\` is already revoked`);
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'admin_token.revoke',
      target: { type: 'admin_token', id },
    });
    return revoked;
  });
}

const unauthenticated = (message: string) => new CustosError('unauthenticated', message);

/**
 * Turns a presented bearer token into the acting principal, or throws
 * `unauthenticated` saying why (malformed, unknown, expired, revoked, or its
 * user deactivated). The checksum is checked before any lookup.
 */
export async function authenticateAdminToken(
  deps: IdentityDeps,
  token: string,
  requestId: string | null,
): Promise<Actor> {
  if (!isAdminTokenFormat(token))
    throw unauthenticated('malformed admin token: expected a `cst_pat_…` token');
  const record = await deps.store.adminTokens.getByHash(hashAdminToken(token));
  if (!record) throw unauthenticated('unknown admin token');
  const now = deps.clock.now();
  if (record.revokedAt !== null) throw unauthenticated('admin token has been revoked');
  if (record.expiresAt <= now) throw unauthenticated('admin token has expired');
  if (record.userId) {
    const user = await deps.store.users.get(record.userId);
    if (user?.status !== 'active') throw unauthenticated("admin token's user is deactivated");
  }
  if (record.lastUsedAt === null || now - record.lastUsedAt > TOUCH_INTERVAL_MS) {
    // Bookkeeping, not an audited change: while the store cannot be written, reads
    // (such as an auditor reading the log during the outage) still work.
    await deps.store.adminTokens.touch(record.id, now).catch((error: unknown) => {
      if (!(error instanceof StoreUnavailable)) throw error;
    });
  }
  return { type: 'admin_token', id: record.id, role: record.role, userId: record.userId, requestId };
}

/**
 * On an empty database, creates the first admin token: `provided` when given
 * (it must be a valid `cst_pat_…` token), otherwise a generated one, which is
 * returned so the caller can show it once. Returns null when tokens already exist.
 */
export async function ensureBootstrapToken(
  deps: IdentityDeps,
  provided: string | undefined,
): Promise<{ token: string; generated: boolean } | null> {
  if ((await deps.store.adminTokens.count()) > 0) return null;
  const token = provided ?? generateAdminToken();
  const now = deps.clock.now();
  const record: AdminTokenRecord = {
    id: newId('tok', now),
    name: 'bootstrap',
    tokenHash: hashAdminToken(token),
    role: 'admin',
    userId: null,
    createdBy: SYSTEM_ACTOR.id,
    createdAt: now,
    expiresAt: now + deps.settings.adminTokenDefaultTtlMs,
    revokedAt: null,
    lastUsedAt: null,
  };
  try {
    await deps.store.transaction(async (tx) => {
      await tx.adminTokens.insert(record);
      await recordAuditEvent(tx, deps.clock, SYSTEM_ACTOR, {
        action: 'admin_token.create',
        target: { type: 'admin_token', id: record.id },
        reason: 'bootstrap: first start on an empty database',
        details: { name: record.name, role: record.role, expiresAt: record.expiresAt },
      });
    });
  } catch (error) {
    // Another node sharing the database created the same provided token first.
    if (error instanceof UniqueViolation) return null;
    throw error;
  }
  return { token, generated: provided === undefined };
}
