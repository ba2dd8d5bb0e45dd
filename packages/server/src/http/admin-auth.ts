import type { FastifyRequest } from 'fastify';
import type { Actor } from '../audit/index.js';
import { CustosError } from '../core/index.js';
import { authenticateAdminToken } from '../identity/index.js';
import type { AppDeps } from './deps.js';

/**
 * Reads `Authorization: Bearer cst_pat_…` and resolves the admin principal, or
 * throws `unauthenticated` with the reason. Runs before the body is parsed, so
 * an unauthenticated caller cannot make the server read a large body.
 */
export async function authenticateRequest(deps: AppDeps, request: FastifyRequest): Promise<Actor> {
  const header = request.headers.authorization;
  if (!header)
    throw new CustosError('unauthenticated', 'missing `Authorization: Bearer <admin token>` header');
  const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
  if (!match?.[1])
    throw new CustosError('unauthenticated', 'the `Authorization` header must use the Bearer scheme');
  const actor = await authenticateAdminToken(deps, match[1], request.id);
  if (actor.role === 'resource_server') {
    throw new CustosError('forbidden', 'resource_server tokens may only call token introspection');
  }
  return actor;
}
