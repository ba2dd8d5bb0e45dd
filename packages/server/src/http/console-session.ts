import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseCookie, stringifySetCookie } from 'cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../audit/index.js';
import { CustosError } from '../core/index.js';
import { type ResolvedSession, resolveSession, SESSION_TTL_MS } from '../identity/index.js';
import type { AppDeps } from './deps.js';

/**
 * The browser side of console sessions: the cookie, the CSRF token and the
 * origin check. Sessions themselves live in `identity/console-sessions.ts`.
 *
 * The cookie is `HttpOnly; SameSite=Strict; Path=/`, plus `Secure` (and the
 * `__Host-` name prefix, which browsers only accept with `Secure`) when the
 * issuer is https. Every cookie-authenticated request that changes something
 * must carry `x-csrf-token`: an HMAC of the session id under a key derived from
 * the master key, so it cannot be computed without the server, and a page on
 * another origin cannot read it.
 */

export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const isSecure = (deps: AppDeps) => deps.config.issuer.startsWith('https:');
export const cookieName = (deps: AppDeps): string =>
  isSecure(deps) ? '__Host-custos_session' : 'custos_session';

const csrfKeys = new WeakMap<Buffer, Buffer>();
function csrfKey(deps: AppDeps): Buffer {
  let key = csrfKeys.get(deps.master.key);
  if (!key) {
    // a purpose-specific key, so the master key never serves two uses
    key = createHmac('sha256', deps.master.key).update('custos:console-csrf').digest();
    csrfKeys.set(deps.master.key, key);
  }
  return key;
}

/** The CSRF token of a session (what the SPA sends back in `x-csrf-token`). */
export function csrfTokenFor(deps: AppDeps, sessionId: string): string {
  return createHmac('sha256', csrfKey(deps)).update(sessionId, 'utf8').digest('base64url');
}

/** The session cookie of a request, if it carries one. */
export function sessionCookie(deps: AppDeps, request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  return parseCookie(header)[cookieName(deps)];
}

export function setSessionCookie(deps: AppDeps, reply: FastifyReply, sessionId: string): void {
  reply.header(
    'set-cookie',
    stringifySetCookie(cookieName(deps), sessionId, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: isSecure(deps),
      maxAge: Math.floor(SESSION_TTL_MS / 1000),
    }),
  );
}

export function clearSessionCookie(deps: AppDeps, reply: FastifyReply): void {
  reply.header(
    'set-cookie',
    stringifySetCookie(cookieName(deps), '', {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: isSecure(deps),
      maxAge: 0,
    }),
  );
}

/** Refuses a browser request whose `Origin` (when sent) is not the issuer's origin. */
export function checkOrigin(deps: AppDeps, request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== new URL(deps.config.issuer).origin) {
    throw new CustosError('forbidden', `cross-origin request from \`${origin}\` refused`);
  }
}

const sessions = new WeakMap<FastifyRequest, { id: string; resolved: ResolvedSession }>();

/** The console session a request was authenticated with (null for bearer requests). */
export function sessionOf(request: FastifyRequest): { id: string; resolved: ResolvedSession } | null {
  return sessions.get(request) ?? null;
}

/**
 * Authenticates a request by its session cookie: resolves the session, checks
 * the origin, and on anything but GET/HEAD/OPTIONS the CSRF header.
 */
export async function authenticateSession(
  deps: AppDeps,
  request: FastifyRequest,
  sessionId: string,
): Promise<Actor> {
  checkOrigin(deps, request);
  const resolved = await resolveSession(deps, sessionId, request.id);
  if (!SAFE_METHODS.has(request.method)) {
    const sent = request.headers[CSRF_HEADER];
    const expected = Buffer.from(csrfTokenFor(deps, sessionId));
    const given = Buffer.from(typeof sent === 'string' ? sent : '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new CustosError('forbidden', `missing or wrong \`${CSRF_HEADER}\` header for a console session`);
    }
  }
  sessions.set(request, { id: sessionId, resolved });
  return resolved.actor;
}
