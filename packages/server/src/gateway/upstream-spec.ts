import type { UpstreamRecord } from '../storage/index.js';

/** A token bucket: `rate` requests per second on average, up to `burst` at once. */
export interface RateLimit {
  readonly rate: number;
  readonly burst: number;
}

/** Per-agent limits of one upstream: over the whole upstream, and per tool or route. */
export interface UpstreamLimits {
  readonly perAgent?: RateLimit | undefined;
  readonly perTool?: RateLimit | undefined;
}

/**
 * How the gateway authenticates to an upstream. Only vault secret *names* are
 * stored; values are read from the vault at call time and never leave the gateway.
 */
export type UpstreamAuth =
  | { readonly type: 'none' }
  | {
      readonly type: 'header';
      readonly header: string;
      readonly secret: string;
      readonly prefix?: string | undefined;
    }
  | { readonly type: 'bearer'; readonly secret: string }
  | {
      readonly type: 'oauth_client_credentials';
      readonly tokenUrl: string;
      readonly clientId: string;
      /** Vault secret holding the client secret. */
      readonly clientSecret: string;
      readonly scope?: string | undefined;
      /** RFC 8707 resource indicator to ask for. */
      readonly resource?: string | undefined;
      /** How the client secret is sent (default `client_secret_basic`). */
      readonly method?: 'client_secret_basic' | 'client_secret_post' | undefined;
    };

/** An MCP server reached over Streamable HTTP. */
export interface HttpMcpTransport {
  readonly type: 'http';
  readonly url: string;
}

/** An MCP server the gateway starts and supervises, speaking JSON-RPC on stdin/stdout. */
export interface StdioMcpTransport {
  readonly type: 'stdio';
  readonly command: string;
  readonly args: readonly string[];
  /** Plain environment variables of the child. */
  readonly env: Readonly<Record<string, string>>;
  /** Environment variables whose values come from vault secrets (variable → secret name). */
  readonly secretEnv: Readonly<Record<string, string>>;
  readonly cwd?: string | undefined;
}

export interface McpServerSpec {
  readonly transport: HttpMcpTransport | StdioMcpTransport;
  /** Stdio servers are authenticated through `secretEnv`; `auth` applies to HTTP transports. */
  readonly auth: UpstreamAuth;
  readonly limits: UpstreamLimits;
}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** One route of an HTTP API: a method and a path pattern (`/invoices/{id}`, `/files/{path*}`). */
export interface RouteSpec {
  readonly method: HttpMethod;
  readonly path: string;
}

export interface HttpApiSpec {
  readonly baseUrl: string;
  readonly routes: readonly RouteSpec[];
  readonly auth: UpstreamAuth;
  readonly limits: UpstreamLimits;
}

/** One tool of an MCP server, as discovered with `tools/list`. */
export interface CatalogTool {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
}

export interface McpServer {
  readonly name: string;
  readonly description: string;
  readonly spec: McpServerSpec;
  readonly tools: readonly CatalogTool[];
  readonly catalogUpdatedAt: number | null;
}

export interface HttpApi {
  readonly name: string;
  readonly description: string;
  readonly spec: HttpApiSpec;
}

/** The stored JSON of an upstream, narrowed: it was validated when stored. */
export function mcpServerOf(record: UpstreamRecord): McpServer {
  return {
    name: record.name,
    description: record.description,
    spec: record.spec as unknown as McpServerSpec,
    tools: record.catalog as readonly CatalogTool[],
    catalogUpdatedAt: record.catalogUpdatedAt,
  };
}

export function httpApiOf(record: UpstreamRecord): HttpApi {
  return { name: record.name, description: record.description, spec: record.spec as unknown as HttpApiSpec };
}

/** The vault secrets an upstream's credentials come from. */
export function secretsOf(auth: UpstreamAuth, transport?: McpServerSpec['transport']): string[] {
  const names: string[] = [];
  if (auth.type === 'header' || auth.type === 'bearer') names.push(auth.secret);
  if (auth.type === 'oauth_client_credentials') names.push(auth.clientSecret);
  if (transport?.type === 'stdio') names.push(...Object.values(transport.secretEnv));
  return names;
}

/** The Cedar id of a route: `<api>/<METHOD> <path pattern>` (DESIGN.md §5). */
export const routeId = (api: string, route: RouteSpec): string => `${api}/${route.method} ${route.path}`;

/** The Cedar id of a tool: `<server>/<tool>`. */
export const toolId = (server: string, tool: string): string => `${server}/${tool}`;
