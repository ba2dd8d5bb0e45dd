import { createHash, randomBytes } from 'node:crypto';
import { formatCredential, parseCredential } from '@custos/sdk';
import { type Actor, recordAuditEvent } from '../audit/index.js';
import { CustosError } from '../core/index.js';
import type { ConsoleSessionRecord, Repositories } from '../storage/index.js';
import { authenticateAdminToken } from './admin-tokens.js';
import type { IdentityDeps } from './deps.js';
import {
  accountKey,
  addressKey,
  assertNotThrottled,
  countFailure,
  SignInThrottled,
  THROTTLE,
} from './login-throttle.js';
import { checkPassword } from './passwords.js';

/** Session ids are `cst_ses_…` credentials, so secret scanners recognise a leaked cookie. */
export const SESSION_KIND = 'ses';
/** A session ends this long after sign-in, whatever happens. */
export const SESSION_TTL_MS = 12 * 3600_000;
/** …or after this long without a request. */
export const SESSION_IDLE_MS = 60 * 60_000;
const TOUCH_INTERVAL_MS = 60_000;

/** Where a sign-in or request came from; recorded with the session and in the audit log. */
export interface ClientInfo {
  readonly address: string;
  readonly userAgent: string;
  readonly requestId: string;
}

/** A freshly opened session: the cookie value (shown once, only its hash is stored) and who it is. */
export interface OpenedSession {
  readonly sessionId: string;
  readonly expiresAt: number;
  readonly method: ConsoleSessionRecord['method'];
  readonly actor: Actor;
}

export const hashSessionId = (sessionId: string): string =>
  createHash('sha256').update(sessionId, 'utf8').digest('hex');

const unauthenticated = (message: string) => new CustosError('unauthenticated', message);
/** One answer for an unknown account, a wrong password and an account without a password. */
export const BAD_CREDENTIALS = 'wrong email or password';

async function open(
  deps: IdentityDeps,
  tx: Repositories,
  actor: Actor,
  fields: Pick<ConsoleSessionRecord, 'method' | 'adminTokenId' | 'userId'>,
  client: ClientInfo,
): Promise<OpenedSession> {
  const now = deps.clock.now();
  const sessionId = formatCredential(SESSION_KIND, randomBytes(64));
  const record: ConsoleSessionRecord = {
    idHash: hashSessionId(sessionId),
    ...fields,
    address: client.address,
    userAgent: client.userAgent.slice(0, 500),
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + SESSION_TTL_MS,
  };
  await tx.console.sessions.insert(record);
  await recordAuditEvent(tx, deps.clock, actor, {
    action: 'session.create',
    target: fields.userId
      ? { type: 'user', id: fields.userId }
      : { type: 'admin_token', id: fields.adminTokenId ?? '' },
    details: { method: fields.method, session: record.idHash.slice(0, 16), address: client.address },
  });
  return { sessionId, expiresAt: record.expiresAt, method: fields.method, actor };
}

/** Records a refused sign-in and counts it against the throttling keys, in one transaction. */
async function refuse(
  deps: IdentityDeps,
  client: ClientInfo,
  method: ConsoleSessionRecord['method'],
  login: string | null,
  reason: string,
): Promise<void> {
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    await countFailure(
      tx,
      [
        ...(login === null ? [] : [{ key: accountKey(login), rule: THROTTLE.account }]),
        { key: addressKey(client.address), rule: THROTTLE.address },
      ],
      now,
    );
    const anonymous: Actor = {
      type: 'anonymous',
      id: client.address,
      role: 'none',
      userId: null,
      requestId: client.requestId,
    };
    await recordAuditEvent(tx, deps.clock, anonymous, {
      action: 'session.refuse',
      target: null,
      outcome: 'failure',
      reason,
      details: { method, ...(login === null ? {} : { login }) },
    });
  });
}

/**
 * Opens a console session for the holder of an admin token. The session acts as
 * that token, and ends when the token is revoked or expires. Failures are
 * audited and throttled per source address; `resource_server` tokens are refused.
 */
export async function signInWithToken(
  deps: IdentityDeps,
  token: string,
  client: ClientInfo,
): Promise<OpenedSession> {
  await assertNotThrottled(deps.store, [addressKey(client.address)], deps.clock.now());
  let actor: Actor;
  try {
    actor = await authenticateAdminToken(deps, token, client.requestId);
    if (actor.role === 'resource_server') {
      throw new CustosError('forbidden', 'resource_server tokens cannot sign in to the console');
    }
  } catch (error) {
    if (error instanceof CustosError) await refuse(deps, client, 'token', null, error.message);
    throw error;
  }
  return deps.store.transaction((tx) =>
    open(deps, tx, actor, { method: 'token', adminTokenId: actor.id, userId: null }, client),
  );
}

/**
 * Opens a console session for a person with a console password. Unknown
 * account, deactivated user, no password and wrong password all get the same
 * answer after the same work (one argon2 verification). Failures are audited
 * and throttled per account name and per source address.
 */
export async function signInWithPassword(
  deps: IdentityDeps,
  login: string,
  password: string,
  client: ClientInfo,
): Promise<OpenedSession> {
  const keys = [accountKey(login), addressKey(client.address)];
  await assertNotThrottled(deps.store, keys, deps.clock.now());
  const email = login.trim().toLowerCase();
  const user = await deps.store.users.getByEmail(email);
  const stored = user?.status === 'active' ? await deps.store.console.passwords.get(user.id) : null;
  const ok = await checkPassword(stored?.passwordHash ?? null, password);
  if (!ok || !user || !stored) {
    await refuse(deps, client, 'password', email, BAD_CREDENTIALS);
    throw unauthenticated(BAD_CREDENTIALS);
  }
  const actor: Actor = {
    type: 'user',
    id: user.id,
    role: stored.consoleRole,
    userId: user.id,
    requestId: client.requestId,
  };
  return deps.store.transaction(async (tx) => {
    await tx.console.loginThrottle.clear(accountKey(login));
    return open(deps, tx, actor, { method: 'password', adminTokenId: null, userId: user.id }, client);
  });
}

/** A session resolved for one request: its record and who acts. */
export interface ResolvedSession {
  readonly session: ConsoleSessionRecord;
  readonly actor: Actor;
}

/**
 * Resolves the session cookie of a request to the acting principal, or throws
 * `unauthenticated`. Re-checks on every request what could have changed since
 * sign-in: the session's absolute and idle expiry, the admin token (revoked,
 * expired, user deactivated) or the user (deactivated, password removed; the
 * role is read afresh, so a role change applies at once).
 */
export async function resolveSession(
  deps: IdentityDeps,
  sessionId: string,
  requestId: string | null,
): Promise<ResolvedSession> {
  const parsed = parseCredential(sessionId);
  if (!parsed.ok || parsed.kind !== SESSION_KIND) throw unauthenticated('malformed console session cookie');
  const session = await deps.store.console.sessions.get(hashSessionId(sessionId));
  if (!session) throw unauthenticated('console session has ended: sign in again');
  const now = deps.clock.now();
  if (session.expiresAt <= now || session.lastSeenAt + SESSION_IDLE_MS <= now) {
    await deps.store.console.sessions.delete(session.idHash);
    throw unauthenticated('console session has expired: sign in again');
  }
  let actor: Actor;
  if (session.method === 'token') {
    const token = session.adminTokenId ? await deps.store.adminTokens.get(session.adminTokenId) : null;
    if (!token || token.revokedAt !== null || token.expiresAt <= now) {
      throw unauthenticated('the admin token of this console session is no longer valid');
    }
    if (token.userId) {
      const user = await deps.store.users.get(token.userId);
      if (user?.status !== 'active') throw unauthenticated("admin token's user is deactivated");
    }
    actor = { type: 'admin_token', id: token.id, role: token.role, userId: token.userId, requestId };
  } else {
    const user = session.userId ? await deps.store.users.get(session.userId) : null;
    const password = user ? await deps.store.console.passwords.get(user.id) : null;
    if (user?.status !== 'active' || !password) {
      throw unauthenticated('the account of this console session is no longer active');
    }
    actor = { type: 'user', id: user.id, role: password.consoleRole, userId: user.id, requestId };
  }
  if (now - session.lastSeenAt > TOUCH_INTERVAL_MS)
    await deps.store.console.sessions.touch(session.idHash, now);
  return { session, actor };
}

/** Ends a session (sign-out), recorded in the audit log. */
export async function signOut(
  deps: IdentityDeps,
  actor: Actor,
  session: ConsoleSessionRecord,
): Promise<void> {
  await deps.store.transaction(async (tx) => {
    await tx.console.sessions.delete(session.idHash);
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'session.delete',
      target: session.userId
        ? { type: 'user', id: session.userId }
        : { type: 'admin_token', id: session.adminTokenId ?? '' },
      details: { method: session.method, session: session.idHash.slice(0, 16) },
    });
  });
}

/** Housekeeping: deletes expired and idle sessions and stale sign-in counters; returns how many sessions. */
export async function pruneSessions(deps: IdentityDeps): Promise<number> {
  const now = deps.clock.now();
  const window = Math.max(THROTTLE.account.windowMs, THROTTLE.address.windowMs);
  await deps.store.console.loginThrottle.deleteStale(now, now - window);
  return deps.store.console.sessions.deleteExpired(now, now - SESSION_IDLE_MS);
}

export { SignInThrottled };
