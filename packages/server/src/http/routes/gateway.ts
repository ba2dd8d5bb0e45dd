import { type Static, Type } from '@sinclair/typebox';
import {
  addHttpApi,
  addMcpServer,
  cedarTypeOf,
  getUpstream,
  httpApiOf,
  httpResource,
  listUpstreams,
  mcpResource,
  mcpServerOf,
  refreshMcpServer,
  removeUpstream,
  routeId,
  type SyncReport,
  toolId,
} from '../../gateway/index.js';
import { uidText } from '../../policy/index.js';
import type { UpstreamRecord } from '../../storage/index.js';
import type { AppDeps } from '../deps.js';
import * as G from '../gateway-schemas.js';
import { defineRoute } from '../route.js';
import { iso } from '../views.js';

const NameParams = Type.Object({ name: G.UpstreamName }, { additionalProperties: false });

const opsOf = (deps: AppDeps) => ({
  store: deps.store,
  clock: deps.clock,
  engine: deps.policy,
  gateway: deps.gateway,
});

function serverView(
  issuer: string,
  record: UpstreamRecord,
  sync?: SyncReport,
): Static<typeof G.McpServerView> {
  const server = mcpServerOf(record);
  return {
    name: server.name,
    description: server.description,
    resource: mcpResource(issuer, server.name),
    transport: server.spec.transport,
    auth: server.spec.auth,
    limits: server.spec.limits,
    tools: server.tools.map((t) => {
      const properties = (t.inputSchema.properties ?? {}) as Record<string, unknown>;
      const args: Record<string, string> = {};
      for (const [name, schema] of Object.entries(properties))
        args[name] = cedarTypeOf(schema) ?? '(untyped)';
      return {
        name: t.name,
        entity: uidText({ type: 'Tool', id: toolId(server.name, t.name) }),
        description: t.description,
        arguments: args,
      };
    }),
    catalogUpdatedAt: server.catalogUpdatedAt === null ? null : iso(server.catalogUpdatedAt),
    createdAt: iso(record.createdAt),
    updatedAt: iso(record.updatedAt),
    ...(sync ? { sync: { schemaApplied: sync.schemaApplied, warnings: [...sync.warnings] } } : {}),
  };
}

function apiView(issuer: string, record: UpstreamRecord, sync?: SyncReport): Static<typeof G.HttpApiView> {
  const api = httpApiOf(record);
  return {
    name: api.name,
    description: api.description,
    resource: httpResource(issuer, api.name),
    baseUrl: api.spec.baseUrl,
    routes: api.spec.routes.map((r) => ({
      method: r.method,
      path: r.path,
      entity: uidText({ type: 'Route', id: routeId(api.name, r) }),
    })),
    auth: api.spec.auth,
    limits: api.spec.limits,
    createdAt: iso(record.createdAt),
    updatedAt: iso(record.updatedAt),
    ...(sync ? { sync: { schemaApplied: sync.schemaApplied, warnings: [...sync.warnings] } } : {}),
  };
}

export const gatewayRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/gateway/servers',
    operationId: 'addMcpServer',
    summary:
      'Register an MCP server behind the gateway; its tools are discovered and typed in the Cedar schema (admin)',
    tag: 'gateway',
    access: 'authenticated',
    status: 201,
    body: G.AddMcpServer,
    response: G.McpServerView,
    handler: async ({ deps, actor, body }) => {
      const change = await addMcpServer(opsOf(deps), actor, body);
      return serverView(deps.config.issuer, change.record, change.sync);
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/gateway/servers',
    operationId: 'listMcpServers',
    summary: 'MCP servers behind the gateway',
    tag: 'gateway',
    access: 'authenticated',
    response: Type.Object({ items: Type.Array(G.McpServerView) }),
    handler: async ({ deps, actor }) => ({
      items: (await listUpstreams(deps, actor, 'mcp')).map((r) => serverView(deps.config.issuer, r)),
    }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/gateway/servers/{name}',
    operationId: 'getMcpServer',
    summary: 'One MCP server, with its tools and their argument types',
    tag: 'gateway',
    access: 'authenticated',
    params: NameParams,
    response: G.McpServerView,
    handler: async ({ deps, actor, params }) =>
      serverView(deps.config.issuer, await getUpstream(deps, actor, 'mcp', params.name)),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/gateway/servers/{name}/refresh',
    operationId: 'refreshMcpServer',
    summary: 'List the server’s tools again and update the catalog, entities and schema (admin)',
    tag: 'gateway',
    access: 'authenticated',
    params: NameParams,
    body: Type.Object({}, { additionalProperties: false }),
    bodyOptional: true,
    response: G.McpServerView,
    handler: async ({ deps, actor, params }) => {
      const change = await refreshMcpServer(opsOf(deps), actor, params.name);
      return serverView(deps.config.issuer, change.record, change.sync);
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/gateway/servers/{name}',
    operationId: 'removeMcpServer',
    summary: 'Remove an MCP server from the gateway (admin)',
    tag: 'gateway',
    access: 'authenticated',
    status: 204,
    params: NameParams,
    handler: async ({ deps, actor, params }) => {
      await removeUpstream(opsOf(deps), actor, 'mcp', params.name);
      return null;
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/gateway/apis',
    operationId: 'addHttpApi',
    summary: 'Register an HTTP API behind the gateway, with its routes (admin)',
    tag: 'gateway',
    access: 'authenticated',
    status: 201,
    body: G.AddHttpApi,
    response: G.HttpApiView,
    handler: async ({ deps, actor, body }) => {
      const change = await addHttpApi(opsOf(deps), actor, body);
      return apiView(deps.config.issuer, change.record, change.sync);
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/gateway/apis',
    operationId: 'listHttpApis',
    summary: 'HTTP APIs behind the gateway',
    tag: 'gateway',
    access: 'authenticated',
    response: Type.Object({ items: Type.Array(G.HttpApiView) }),
    handler: async ({ deps, actor }) => ({
      items: (await listUpstreams(deps, actor, 'http')).map((r) => apiView(deps.config.issuer, r)),
    }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/gateway/apis/{name}',
    operationId: 'getHttpApi',
    summary: 'One HTTP API and its routes',
    tag: 'gateway',
    access: 'authenticated',
    params: NameParams,
    response: G.HttpApiView,
    handler: async ({ deps, actor, params }) =>
      apiView(deps.config.issuer, await getUpstream(deps, actor, 'http', params.name)),
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/gateway/apis/{name}',
    operationId: 'removeHttpApi',
    summary: 'Remove an HTTP API from the gateway (admin)',
    tag: 'gateway',
    access: 'authenticated',
    status: 204,
    params: NameParams,
    handler: async ({ deps, actor, params }) => {
      await removeUpstream(opsOf(deps), actor, 'http', params.name);
      return null;
    },
  }),
];
