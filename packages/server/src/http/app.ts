import { createServer } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Actor } from '../audit/index.js';
import { CustosError, invalid, randomToken } from '../core/index.js';
import { OAuthError, registerOAuthRoutes, sendOAuthError } from '../oauth/index.js';
import { authenticateRequest } from './admin-auth.js';
import { registerConsoleRoutes } from './console-routes.js';
import type { AppDeps } from './deps.js';
import type { Metrics } from './metrics.js';
import { buildOpenApi } from './openapi.js';
import { toProblem } from './problem.js';
import type { RouteAccess, RouteDef } from './route.js';
import { adminTokenRoutes } from './routes/admin-tokens.js';
import { agentRoutes } from './routes/agents.js';
import { approvalRoutes } from './routes/approvals.js';
import { auditRoutes } from './routes/audit-events.js';
import { auditExportRoutes } from './routes/audit-export.js';
import { registerAuthzenRoutes } from './routes/authzen.js';
import { credentialRoutes } from './routes/credentials.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { delegationRoutes } from './routes/delegation.js';
import { entityRoutes } from './routes/entities.js';
import { federationRoutes } from './routes/federation.js';
import { gatewayRoutes } from './routes/gateway.js';
import { grantRoutes } from './routes/grants.js';
import { monitorRoutes } from './routes/monitor.js';
import { policyRoutes } from './routes/policy.js';
import { schemaRoutes } from './routes/policy-schema.js';
import { secretRoutes } from './routes/secrets.js';
import { sessionRoutes } from './routes/session.js';
import { teamRoutes } from './routes/teams.js';
import { userRoutes } from './routes/users.js';
import { compileValidator } from './validation.js';

/** The admin API's route table: the one place to find where a request is handled. */
export const API_ROUTES: readonly RouteDef[] = [
  ...userRoutes,
  ...teamRoutes,
  ...agentRoutes,
  ...adminTokenRoutes,
  ...credentialRoutes,
  ...federationRoutes,
  ...secretRoutes,
  ...delegationRoutes,
  ...approvalRoutes,
  ...policyRoutes,
  ...grantRoutes,
  ...entityRoutes,
  ...schemaRoutes,
  ...auditRoutes,
  ...monitorRoutes,
  ...auditExportRoutes,
  ...sessionRoutes,
  ...dashboardRoutes,
  ...gatewayRoutes,
];

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

export interface AppOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly version: string;
}

const toFastifyPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

/** The JSON pointer of the first string (or member name) in `value` with a NUL, or null. */
function nulIn(value: unknown, pointer: string): string | null {
  // where each value sits, as a chain of member names: the pointer is spelled out only for a hit
  type Place = { readonly parent: Place | null; readonly name: string };
  const spell = (place: Place | null): string => {
    const names: string[] = [];
    for (let p = place; p !== null; p = p.parent) names.push(p.name.replace(/~/g, '~0').replace(/\//g, '~1'));
    return (
      `${pointer}${names
        .reverse()
        .map((n) => `/${n}`)
        .join('')}` || '/'
    );
  };
  // an explicit stack: a body's nesting is bounded only by its size
  const stack: [unknown, Place | null][] = [[value, null]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [item, place] = next;
    if (typeof item === 'string') {
      if (item.includes('\u0000')) return spell(place);
    } else if (typeof item === 'object' && item !== null) {
      for (const name of Object.keys(item)) {
        const at = { parent: place, name };
        if (name.includes('\u0000')) return spell(at);
        stack.push([(item as Record<string, unknown>)[name], at]);
      }
    }
  }
  return null;
}

/**
 * Assembles the HTTP application: operations endpoints, the admin API from its
 * route table, authentication, validation and the one error-to-problem mapping.
 */
export function buildApp(deps: AppDeps, options: AppOptions): FastifyInstance {
  const app = Fastify({
    // The gateway's paths (`/mcp/…`, `/gw/…` and their RFC 9728 metadata) are served
    // before the framework: a proxy hop must cost about what a bare Node proxy does.
    serverFactory: (handler) =>
      createServer((request, response) => {
        if (deps.gateway.handles(request.url ?? '')) void deps.gateway.handle(request, response);
        else handler(request, response);
      }),
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: deps.config.bodyLimit,
    genReqId: () => `req_${randomToken(12)}`,
    requestIdHeader: false,
    return503OnClosing: true,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });
  app.setValidatorCompiler(({ schema, httpPart }) => compileValidator(schema, httpPart));
  // OAuth endpoints take forms (RFC 6749 §3.2); kept as text so repeated parameters stay visible.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, body);
    },
  );
  app.decorateRequest('actor', null);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('cache-control', 'no-store');
    if (request.routeOptions.config.access === 'authenticated') {
      request.actor = await authenticateRequest(deps, request);
    }
  });

  // PostgreSQL refuses NUL in text, as a value and as a query's parameter: a NUL anywhere in
  // a request is refused here with its place, rather than failing at the database
  app.addHook('preValidation', async (request) => {
    const at = nulIn(request.params, '/params') ?? nulIn(request.query, '/query') ?? nulIn(request.body, '');
    if (at !== null) throw invalid(at, 'text must not contain NUL (U+0000)');
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    options.metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    options.metrics.requestDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler(async (error, request, reply) => {
    const { body, internal } = toProblem(error, request.id);
    // the store cannot be written or reached: nothing was done, the client may retry
    const unavailable = body.status === 503;
    if (request.routeOptions.config.oauth) {
      if (internal || unavailable) request.log.error({ err: error }, 'oauth request failed');
      if (unavailable) {
        return sendOAuthError(
          reply,
          new OAuthError('temporarily_unavailable', 'the service cannot record this request now; try again'),
        );
      }
      const code = internal ? 'server_error' : 'invalid_request';
      return sendOAuthError(reply, new OAuthError(code, internal ? 'internal error' : body.detail));
    }
    if (internal || unavailable) request.log.error({ err: error }, 'request failed');
    else request.log.info({ problem: body.type, detail: body.detail }, 'request refused');
    if (unavailable) reply.header('retry-after', '1');
    if (body.status === 401) reply.header('www-authenticate', 'Bearer realm="custos"');
    return reply.status(body.status).type('application/problem+json').send(body);
  });

  app.setNotFoundHandler(async (request, reply) => {
    const error = new CustosError('not_found', `no route \`${request.method} ${request.url.split('?')[0]}\``);
    const { body } = toProblem(error, request.id);
    return reply.status(404).type('application/problem+json').send(body);
  });

  for (const route of API_ROUTES) {
    app.route({
      method: route.method,
      url: toFastifyPath(route.path),
      config: { access: route.access },
      ...(route.bodyLimit ? { bodyLimit: route.bodyLimit } : {}),
      preValidation: async (request) => {
        if (!route.body) return;
        if (request.body === undefined && route.bodyOptional) request.body = {};
        else if (
          request.body !== undefined &&
          !/^application\/json\b/i.test(request.headers['content-type'] ?? '')
        ) {
          throw new CustosError('unsupported_media_type', 'request body must be `application/json`');
        }
      },
      schema: {
        ...(route.body ? { body: route.body } : {}),
        ...(route.query ? { querystring: route.query } : {}),
        ...(route.params ? { params: route.params } : {}),
      },
      handler: async (request, reply) => {
        const actor = request.actor;
        if (route.access === 'authenticated' && !actor)
          throw new Error('INVARIANT: authenticated route without actor');
        const result = await route.handler({
          deps,
          actor: actor as Actor,
          body: request.body ?? {},
          query: request.query ?? {},
          params: request.params ?? {},
          requestId: request.id,
          reply,
        });
        return reply.status(route.status ?? 200).send(result);
      },
    });
  }

  registerOAuthRoutes(app, { ...deps, ...deps.oauth }, deps.config.dpopNonce);
  registerAuthzenRoutes(app, deps);
  registerConsoleRoutes(app);

  const openapi = buildOpenApi(API_ROUTES, deps.config.issuer, options.version);
  app.get('/api/v1/openapi.json', async () => openapi);

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (request, reply) => {
    try {
      await deps.store.ping();
      const migrations = await deps.store.migrationStatus();
      if (migrations.applied !== migrations.latest) {
        return reply.status(503).send({ status: 'unavailable', reason: 'migrations pending', ...migrations });
      }
      return { status: 'ready', migrations };
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check failed');
      return reply.status(503).send({ status: 'unavailable', reason: 'store unreachable' });
    }
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });

  return app;
}
