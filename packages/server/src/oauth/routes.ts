import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IdentityDeps } from '../identity/index.js';
import type { OAuthDeps, OAuthRequest, OAuthResponse } from './deps.js';
import { handleIntrospection } from './introspection-endpoint.js';
import { authorizationServerMetadata, PATHS } from './metadata.js';
import { OAuthError } from './oauth-error.js';
import { handleRevocation } from './revocation-endpoint.js';
import { handleTokenRequest, recordTokenRefusal } from './token-endpoint.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Errors on this route are answered in the OAuth format, not as problem+json. */
    oauth?: boolean;
  }
}

function toOAuthRequest(issuer: string, request: FastifyRequest): OAuthRequest {
  const dpop: string[] = [];
  const raw = request.raw.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === 'dpop') dpop.push(raw[i + 1] ?? '');
  return {
    method: request.method,
    url: `${issuer}${request.url.split('?')[0]}`,
    contentType: request.headers['content-type'],
    body: request.body,
    authorization: request.headers.authorization,
    dpop,
    requestId: request.id,
    sourceAddress: request.ip,
  };
}

/** Sends an OAuth error as RFC 6749 §5.2 JSON; 5xx detail stays in the log. */
export function sendOAuthError(reply: FastifyReply, error: OAuthError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  reply.header('cache-control', 'no-store');
  return reply.status(error.status).send({ error: error.error, error_description: error.description });
}

function send(reply: FastifyReply, response: OAuthResponse): FastifyReply {
  for (const [name, value] of Object.entries(response.headers ?? {})) reply.header(name, value);
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  return reply.status(response.status).send(response.body);
}

/**
 * Mounts the authorization server: RFC 8414 metadata, the JWKS, and the token,
 * introspection and revocation endpoints (POST only; other methods get 405).
 */
export function registerOAuthRoutes(
  app: FastifyInstance,
  deps: OAuthDeps & IdentityDeps,
  dpopNonce: boolean,
): void {
  const metadata = authorizationServerMetadata(deps.issuer, dpopNonce);
  app.get(PATHS.metadata, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(metadata),
  );
  app.get(PATHS.jwks, async (_request, reply) =>
    reply
      .header('cache-control', 'public, max-age=60')
      .type('application/jwk-set+json')
      .send(await deps.keys.jwks()),
  );

  const endpoints: ReadonlyArray<[string, (r: OAuthRequest) => Promise<OAuthResponse>, boolean]> = [
    [PATHS.token, (r) => handleTokenRequest(deps, r), true],
    [PATHS.introspection, (r) => handleIntrospection(deps, r), false],
    [PATHS.revocation, (r) => handleRevocation(deps, r), false],
  ];
  for (const [path, handle, auditRefusals] of endpoints) {
    app.post(path, { config: { oauth: true } }, async (request, reply) => {
      const oauthRequest = toOAuthRequest(deps.issuer, request);
      try {
        return send(reply, await handle(oauthRequest));
      } catch (error) {
        if (!(error instanceof OAuthError)) throw error;
        if (error.status >= 500) request.log.error({ err: error.cause ?? error }, 'oauth request failed');
        else request.log.info({ error: error.error, detail: error.description }, 'oauth request refused');
        if (auditRefusals && error.status < 500) {
          await recordTokenRefusal(deps, oauthRequest, error).catch((cause: unknown) =>
            request.log.error({ err: cause }, 'could not record a token refusal'),
          );
        }
        return sendOAuthError(reply, error);
      }
    });
    app.route({
      method: ['GET', 'PUT', 'PATCH', 'DELETE'],
      url: path,
      config: { oauth: true },
      handler: async (_request, reply) =>
        reply
          .header('allow', 'POST')
          .header('cache-control', 'no-store')
          .status(405)
          .send({ error: 'invalid_request', error_description: `use POST for \`${path}\`` }),
    });
  }
}
