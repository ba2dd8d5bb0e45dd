import type { FastifyRequest } from 'fastify';
import type { Actor } from '../audit/index.js';
import { CustosError } from '../core/index.js';
import { authenticateAdminToken } from '../identity/index.js';
import { authenticateSession, sessionCookie } from './console-session.js';
import type { AppDeps } from './deps.js';

/**
 * Reads `Authorization: Bearer cst_pat_…` and resolves the admin principal, or
 * throws `unauthenticated` with the reason. Without that header, a console
 * session cookie is accepted instead (with its CSRF and origin checks, see
 * `console-session.ts`). Runs before the body is parsed, so an unauthenticated
 * caller cannot make the server read a large body.
 */
export async function authenticateRequest(deps: AppDeps, request: FastifyRequest): Promise<Actor> {
  const header = request.headers.authorization;
  if (!header) {
    const sessionId = sessionCookie(deps, request);
    if (sessionId !== undefined) return authenticateSession(deps, request, sessionId);
    throw new CustosError('unauthenticated', 'missing `Authorization: Bearer <admin token>` header');
  }
  const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
  if (!match?.[1])
    throw new CustosError('unauthenticated', 'the `Authorization` header must use the Bearer scheme');
  const actor = await authenticateAdminToken(deps, match[1], request.id);
  if (actor.role === 'resource_server' && !RESOURCE_SERVER_ROUTES.has(request.routeOptions.url ?? '')) {
    throw new CustosError(
      'forbidden',
      'resource_server tokens may only call token introspection and report activity',
    );
  }
  return actor;
}

/** Admin API routes a `resource_server` token may call: reporting what agents did (monitoring). */
const RESOURCE_SERVER_ROUTES: ReadonlySet<string> = new Set(['/api/v1/activity']);
