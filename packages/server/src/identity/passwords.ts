import { randomBytes } from 'node:crypto';
import { argon2id, hash, verify } from 'argon2';
import { type Actor, recordAuditEvent } from '../audit/index.js';
import { CustosError, notFound } from '../core/index.js';
import type { ConsoleRole, UserPasswordRecord } from '../storage/index.js';
import { requireAdmin } from './access.js';
import type { IdentityDeps } from './deps.js';
import { findUser } from './users.js';

/** Shortest and longest accepted console password, in characters. */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

// RFC 9106 §4 second recommended option (64 MiB, 3 passes, 4 lanes): ~50-100 ms per hash here.
const ARGON2 = { type: argon2id, memoryCost: 65_536, timeCost: 3, parallelism: 4 } as const;

/** An argon2id PHC string (`$argon2id$v=19$m=…`) with a fresh random salt. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2);
}

let decoy: Promise<string> | undefined;

/**
 * Checks `password` against a stored PHC string. With `stored: null` (unknown
 * user, or a user without a password) it still runs one argon2 verification on
 * a decoy hash and answers false, so the time taken does not tell the two apart.
 */
export async function checkPassword(stored: string | null, password: string): Promise<boolean> {
  if (stored === null) {
    decoy ??= hashPassword(randomBytes(32).toString('base64url'));
    await verify(await decoy, password).catch(() => false);
    return false;
  }
  try {
    return await verify(stored, password);
  } catch {
    return false; // a malformed stored hash never signs anyone in
  }
}

/** Why a proposed password is refused, or null when it is acceptable. */
export function passwordProblem(password: string): string | null {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH)
    return `the password must have at least ${PASSWORD_MIN_LENGTH} characters`;
  if (length > PASSWORD_MAX_LENGTH) return `the password must have at most ${PASSWORD_MAX_LENGTH} characters`;
  if (password.trim() !== password) return 'the password must not start or end with white space';
  return null;
}

export interface SetPasswordInput {
  readonly password: string;
  /** The role the user signs in to the console with; default `owner`. */
  readonly role?: ConsoleRole | undefined;
}

/**
 * Sets (or replaces) a user's console password and role (admin only). Ends the
 * user's open console sessions, so a changed password locks out whoever held the
 * old one. The audit event records the role, never the password or its hash.
 */
export async function setUserPassword(
  deps: IdentityDeps,
  actor: Actor,
  ref: string,
  input: SetPasswordInput,
): Promise<{ userId: string; role: ConsoleRole; updatedAt: number }> {
  requireAdmin(actor, 'set passwords');
  const problem = passwordProblem(input.password);
  if (problem) {
    throw new CustosError('validation_failed', problem, {
      fields: [{ pointer: '/password', detail: problem }],
    });
  }
  // Hashing is slow (by design): do it before the transaction so no lock is held meanwhile.
  const passwordHash = await hashPassword(input.password);
  const role = input.role ?? 'owner';
  return deps.store.transaction(async (tx) => {
    const user = await findUser(tx, ref);
    if (!user) throw notFound('user', ref);
    if (user.status !== 'active') {
      throw new CustosError('invalid_transition', `user \`${user.id}\` is deactivated`);
    }
    const now = deps.clock.now();
    const before = await tx.console.passwords.get(user.id);
    const record: UserPasswordRecord = {
      userId: user.id,
      passwordHash,
      consoleRole: role,
      createdAt: before?.createdAt ?? now,
      updatedAt: now,
    };
    await tx.console.passwords.put(record);
    const ended = await tx.console.sessions.deleteForUser(user.id);
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'user.set_password',
      target: { type: 'user', id: user.id },
      details: { role, replaced: before !== null, sessionsEnded: ended },
    });
    return { userId: user.id, role, updatedAt: now };
  });
}

/** Removes a user's console password (admin only) and ends their console sessions. */
export async function removeUserPassword(deps: IdentityDeps, actor: Actor, ref: string): Promise<void> {
  requireAdmin(actor, 'remove passwords');
  await deps.store.transaction(async (tx) => {
    const user = await findUser(tx, ref);
    if (!user) throw notFound('user', ref);
    if (!(await tx.console.passwords.delete(user.id))) {
      throw new CustosError('not_found', `user \`${user.id}\` has no console password`);
    }
    const ended = await tx.console.sessions.deleteForUser(user.id);
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'user.remove_password',
      target: { type: 'user', id: user.id },
      details: { sessionsEnded: ended },
    });
  });
}
