import type { Logger } from 'pino';
import type { Clock } from '../core/index.js';
import type { PipelineDeps } from './call-pipeline.js';
import type { UpstreamCredentials } from './credentials.js';
import type { CompiledPattern } from './route-pattern.js';
import type { Sessions } from './sessions.js';
import type { StdioConnection } from './stdio-connection.js';
import type { TokenVerifier } from './token-check.js';
import type { HttpApi, McpServer, RateLimit, RouteSpec } from './upstream-spec.js';

/** The gateway's settings, from the configuration. */
export interface GatewaySettings {
  /** The public base URL: resource URIs are `<issuer>/mcp/<server>` and `<issuer>/gw/<api>`. */
  readonly issuer: string;
  /** Browser origins allowed to call the gateway (besides the issuer's own). */
  readonly allowedOrigins: ReadonlySet<string>;
  readonly bodyLimit: number;
  readonly upstreamTimeoutMs: number;
  readonly agentLimit: RateLimit | undefined;
  /** How long an approval request (and its reference once approved) stays usable, in ms. */
  readonly approvalTtlMs: number;
}

export interface McpServerState {
  readonly server: McpServer;
  /** Names of the tools in the catalog: only these are listed. */
  readonly known: ReadonlySet<string>;
  readonly stdio: StdioConnection | null;
}

export interface HttpApiState {
  readonly api: HttpApi;
  /** Routes, most specific first. */
  readonly routes: readonly { readonly spec: RouteSpec; readonly pattern: CompiledPattern }[];
}

/** What the gateway's request handlers share. */
export interface GatewayContext {
  readonly settings: GatewaySettings;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly verifier: TokenVerifier;
  readonly credentials: UpstreamCredentials;
  readonly sessions: Sessions;
  readonly pipeline: PipelineDeps;
}
