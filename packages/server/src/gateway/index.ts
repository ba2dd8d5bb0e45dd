export type { GatewayAuditMode } from './call-audit.js';
export { cedarTypeOf, gatewaySchemaBlock, inputUnion } from './cedar-input-types.js';
export type { GatewaySettings } from './context.js';
export type { GatewayDeps, GatewayOptions } from './gateway.js';
export { Gateway } from './gateway.js';
export { httpResource, mcpResource, metadataUrl } from './metadata.js';
export type { SyncReport } from './policy-sync.js';
export type {
  CatalogTool,
  HttpApiSpec,
  McpServerSpec,
  RateLimit,
  RouteSpec,
  UpstreamAuth,
  UpstreamLimits,
} from './upstream-spec.js';
export { httpApiOf, mcpServerOf, routeId, toolId } from './upstream-spec.js';
export type { AddHttpApiInput, AddMcpServerInput, GatewayOpsDeps, UpstreamChange } from './upstreams.js';
export {
  addHttpApi,
  addMcpServer,
  getUpstream,
  listUpstreams,
  refreshMcpServer,
  removeUpstream,
} from './upstreams.js';
