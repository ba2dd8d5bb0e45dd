import type { TSchema } from '@sinclair/typebox';
import type { RouteDef } from './route.js';
import { Problem } from './schemas.js';

// TypeBox adds symbol-keyed metadata; JSON serialisation drops it, leaving plain JSON Schema 2020-12.
const plain = (schema: TSchema): unknown => JSON.parse(JSON.stringify(schema));

function parameters(route: RouteDef): unknown[] {
  const out: unknown[] = [];
  for (const [location, schema] of [
    ['path', route.params],
    ['query', route.query],
  ] as const) {
    const props = (schema?.properties ?? {}) as Record<string, TSchema>;
    const required = new Set<string>((schema?.required as string[] | undefined) ?? []);
    for (const [name, prop] of Object.entries(props)) {
      out.push({
        name,
        in: location,
        required: location === 'path' || required.has(name),
        schema: plain(prop),
        ...(prop.type === 'array' ? { style: 'form', explode: true } : {}),
      });
    }
  }
  return out;
}

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

/** The OpenAPI 3.1 document, generated from the same route table that serves the API. */
export function buildOpenApi(routes: readonly RouteDef[], serverUrl: string, version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (!route.path.startsWith('/api/v1/') || route.path === '/api/v1/openapi.json') continue;
    const operation: Record<string, unknown> = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      parameters: parameters(route),
      responses: {
        [String(route.status ?? 200)]: {
          description: 'success',
          ...(route.response ? { content: { 'application/json': { schema: plain(route.response) } } } : {}),
        },
        '400': problemResponse('invalid request'),
        '401': problemResponse('missing, malformed, unknown, expired or revoked admin token'),
        '403': problemResponse('the token’s role does not allow this'),
        ...(route.params ? { '404': problemResponse('no such resource') } : {}),
        ...(route.method !== 'GET' ? { '409': problemResponse('conflicts with the current state') } : {}),
      },
    };
    if (route.body) {
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: plain(route.body) } },
      };
    }
    const pathItem = paths[route.path] ?? {};
    pathItem[route.method.toLowerCase()] = operation;
    paths[route.path] = pathItem;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Custos admin API',
      version,
      description: 'Inventory and governance of AI agent identities. Errors are RFC 9457 problem details.',
    },
    servers: [{ url: serverUrl }],
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'an admin token `cst_pat_…`' },
      },
      schemas: { Problem: plain(Problem) },
    },
  };
}
