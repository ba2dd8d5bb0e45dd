import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { type Clock, randomToken } from '../core/index.js';
import type { DpopSettings, KeyRing } from '../oauth/index.js';
import type { PolicyEngine } from '../policy/index.js';
import type { MasterKey } from '../secrets/index.js';
import type { GroupCommitter, Store, UpstreamRecord } from '../storage/index.js';
import { ActiveTokens } from './active-tokens.js';
import { CallAudit, type CallAuditSettings } from './call-audit.js';
import type { PendingProof } from './call-pipeline.js';
import { discoverHttpTools, discoverStdioTools } from './catalog.js';
import type { GatewayContext, GatewaySettings, HttpApiState, McpServerState } from './context.js';
import { UpstreamCredentials } from './credentials.js';
import { GatewayError } from './gateway-error.js';
import { handleHttpApi } from './http-handler.js';
import { handleMcp } from './mcp-handler.js';
import { closeUpstreamConnections } from './mcp-upstream.js';
import {
  challenge,
  GATEWAY_PATHS,
  httpResource,
  mcpResource,
  metadataUrl,
  protectedResourceMetadata,
} from './metadata.js';
import { CallCounters, RateLimiter } from './rate-limiter.js';
import { ProofReplayCache } from './replay-cache.js';
import { compilePattern } from './route-pattern.js';
import { Sessions } from './sessions.js';
import { StdioConnection } from './stdio-connection.js';
import { TokenVerifier, type VerifiedCaller } from './token-check.js';
import { type CatalogTool, httpApiOf, type McpServerSpec, mcpServerOf } from './upstream-spec.js';

export interface GatewayDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly master: MasterKey;
  readonly keys: KeyRing;
  readonly engine: PolicyEngine;
  readonly committer: GroupCommitter;
  readonly dpop: DpopSettings;
  readonly leewaySeconds: number;
}

export interface GatewayOptions extends GatewaySettings {
  readonly audit: CallAuditSettings;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** An upstream a request asked for: which gateway, and the server's or API's name. */
type Upstream = { readonly gateway: 'mcp' | 'http'; readonly name: string };

/** How many refusals are recorded per token (or address): a burst of 20, then one a second. */
const REFUSAL_RECORDS = { rate: 1, burst: 20 };

/**
 * Refusals recorded as `gateway.refuse` when the request presented a token:
 * what is wrong with the token, its proof, the request or its session. Not
 * the challenges of the protocol's normal flow (no token yet, a DPoP nonce to
 * use), nor `unavailable` (nothing can be recorded then), nor what fails once
 * a call was decided (its own record says so).
 */
const RECORDED_REFUSALS: ReadonlySet<GatewayError['code']> = new Set([
  'invalid_request',
  'invalid_token',
  'invalid_dpop_proof',
  'insufficient_scope',
  'forbidden_origin',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'payload_too_large',
]);

/**
 * The policy enforcement point in front of MCP servers (`/mcp/{server}`) and
 * HTTP APIs (`/gw/{api}/…`), with their RFC 9728 metadata. It handles raw
 * Node requests before the admin API's framework sees them, to keep the added
 * latency near a bare proxy's. Upstreams are read from the store and reloaded
 * on every `gateway` change, on every node.
 */
export class Gateway {
  readonly ctx: GatewayContext;
  readonly active: ActiveTokens;
  private readonly servers = new Map<string, McpServerState>();
  private readonly apis = new Map<string, HttpApiState>();
  private readonly tokenCalls = new Map<string, number>();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly refreshing = new Map<string, NodeJS.Timeout>();
  /** Refusal records' limit, and how many went unrecorded since the last record, per token or address. */
  private readonly refusalLimiter = new RateLimiter();
  private readonly unrecordedRefusals = new Map<string, number>();
  /** Called when a stdio server says its tools changed (wired to the catalog refresh). */
  onToolsChanged: (server: string) => void = () => undefined;

  constructor(
    private readonly deps: GatewayDeps,
    options: GatewayOptions,
  ) {
    this.active = new ActiveTokens(deps);
    const dpopWindowMs = (deps.dpop.maxAgeSeconds + 2 * deps.dpop.leewaySeconds) * 1000;
    const verifier = new TokenVerifier(
      {
        keys: deps.keys,
        clock: deps.clock,
        issuer: options.issuer,
        leewaySeconds: deps.leewaySeconds,
        dpop: deps.dpop,
      },
      this.active,
      new ProofReplayCache(dpopWindowMs),
    );
    this.ctx = {
      settings: options,
      clock: deps.clock,
      logger: deps.logger,
      verifier,
      credentials: new UpstreamCredentials(deps),
      sessions: new Sessions(),
      pipeline: {
        engine: deps.engine,
        clock: deps.clock,
        logger: deps.logger,
        audit: new CallAudit(deps, options.audit),
        limiter: new RateLimiter(),
        counters: new CallCounters(),
        agentLimit: options.agentLimit,
        dpopWindowMs,
        approvals: { store: deps.store, clock: deps.clock, ttlMs: options.approvalTtlMs },
      },
    };
  }

  /** Loads the upstreams and follows their changes. */
  async start(): Promise<void> {
    await this.reloadAll();
    this.unsubscribe.push(
      this.deps.store.changes.subscribe((change) => {
        if (change.id === '*')
          void this.reloadAll().catch((error: unknown) =>
            this.deps.logger.error({ err: error }, 'gateway reload failed'),
          );
        else if (change.topic === 'gateway')
          void this.reload(change.id).catch((error: unknown) =>
            this.deps.logger.error({ err: error }, 'gateway reload failed'),
          );
      }),
      this.active.onDrop((agentId) => void this.recheckStreams(agentId)),
    );
    this.timers.push(
      setInterval(() => {
        this.ctx.sessions.expire(this.deps.clock.now());
        if (this.tokenCalls.size > 100_000) this.tokenCalls.clear();
      }, 60_000).unref(),
    );
  }

  private async reloadAll(): Promise<void> {
    const records = await this.deps.store.gatewayUpstreams.list();
    const seen = new Set(records.map((r) => `${r.kind}:${r.name}`));
    for (const name of this.servers.keys()) if (!seen.has(`mcp:${name}`)) await this.drop('mcp', name);
    for (const name of this.apis.keys()) if (!seen.has(`http:${name}`)) await this.drop('http', name);
    for (const record of records) await this.apply(record);
  }

  private async reload(key: string): Promise<void> {
    const [kind, name] = key.split(/:(.*)/s) as ['mcp' | 'http', string];
    const record = await this.deps.store.gatewayUpstreams.get(kind, name);
    if (record) await this.apply(record);
    else await this.drop(kind, name);
  }

  private async drop(kind: 'mcp' | 'http', name: string): Promise<void> {
    if (kind === 'http') {
      this.apis.delete(name);
      return;
    }
    const state = this.servers.get(name);
    this.servers.delete(name);
    for (const session of this.ctx.sessions.ofServer(name)) this.ctx.sessions.close(session.id);
    await state?.stdio?.close();
  }

  private async apply(record: UpstreamRecord): Promise<void> {
    if (record.kind === 'http') {
      const api = httpApiOf(record);
      const routes = api.spec.routes
        .map((spec) => ({ spec, pattern: compilePattern(spec.path) }))
        .filter(
          (r): r is { spec: typeof r.spec; pattern: Exclude<typeof r.pattern, string> } =>
            typeof r.pattern !== 'string',
        )
        .sort(
          (a, b) =>
            b.pattern.specificity - a.pattern.specificity ||
            b.pattern.segments.length - a.pattern.segments.length,
        );
      this.apis.set(api.name, { api, routes });
      return;
    }
    const server = mcpServerOf(record);
    const previous = this.servers.get(server.name);
    const sameSpec = previous && JSON.stringify(previous.server.spec) === JSON.stringify(server.spec);
    let stdio = sameSpec ? previous.stdio : null;
    if (!sameSpec) {
      await previous?.stdio?.close();
      if (previous)
        for (const session of this.ctx.sessions.ofServer(server.name)) this.ctx.sessions.close(session.id);
      stdio = server.spec.transport.type === 'stdio' ? this.stdioFor(server.name, server.spec) : null;
      stdio
        ?.start()
        .catch((error: unknown) =>
          this.deps.logger.warn({ server: server.name, err: error }, 'stdio MCP server did not start'),
        );
    }
    this.servers.set(server.name, { server, known: new Set(server.tools.map((t) => t.name)), stdio });
  }

  private stdioFor(name: string, spec: McpServerSpec): StdioConnection {
    const transport = spec.transport;
    if (transport.type !== 'stdio') throw new Error('INVARIANT: a stdio transport');
    return new StdioConnection(
      name,
      transport,
      () => this.ctx.credentials.environment(transport),
      this.deps.logger,
      (text) => this.redact(text),
      (message) => {
        if (message.method === 'notifications/tools/list_changed') this.toolsChanged(name);
      },
    );
  }

  private toolsChanged(server: string): void {
    // several notifications in a row make one refresh
    clearTimeout(this.refreshing.get(server));
    this.refreshing.set(
      server,
      setTimeout(() => {
        this.refreshing.delete(server);
        this.onToolsChanged(server);
      }, 500).unref(),
    );
  }

  private redact(text: string): string {
    let out = text;
    for (const value of this.ctx.credentials.heldValues())
      if (value.length >= 4) out = out.split(value).join('[redacted]');
    return out;
  }

  /** Lists the tools of a server spec (for registration and refresh), with the gateway's credentials. */
  async discover(name: string, spec: McpServerSpec): Promise<CatalogTool[]> {
    const timeout = this.ctx.settings.upstreamTimeoutMs;
    if (spec.transport.type === 'http') {
      const headers = await this.ctx.credentials.headers(`mcp:${name}`, spec.auth);
      return discoverHttpTools(spec.transport.url, headers as Record<string, string>, timeout);
    }
    const running = this.servers.get(name);
    if (running?.stdio && JSON.stringify(running.server.spec) === JSON.stringify(spec))
      return discoverStdioTools(running.stdio, timeout);
    const probe = this.stdioFor(name, spec);
    try {
      await probe.start();
      return await discoverStdioTools(probe, timeout);
    } finally {
      await probe.close();
    }
  }

  /** Closes the open streams of an agent's sessions whose token is no longer active. */
  private async recheckStreams(agentId: string | null): Promise<void> {
    for (const session of this.ctx.sessions.of(agentId)) {
      if (session.streams.size === 0) continue;
      const state = await this.active.check(session.tokenId).catch(() => null);
      if (!state?.active) this.ctx.sessions.close(session.id);
    }
  }

  /** True for the paths the gateway serves. */
  handles(url: string): boolean {
    return (
      url.startsWith(GATEWAY_PATHS.mcp) ||
      url.startsWith(GATEWAY_PATHS.http) ||
      url.startsWith(`${GATEWAY_PATHS.metadata}/`)
    );
  }

  /** Serves one request (never rejects: every failure is answered). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // the pooled CSPRNG, as the admin API's ids: one `randomBytes` call per request costs several µs
    const requestId = `req_${randomToken(12)}`;
    res.setHeader('x-request-id', requestId);
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const query = q < 0 ? '' : raw.slice(q);
    let resource: string | null = null;
    // the upstream asked for once known, and the token's caller once it checked out
    let upstream: Upstream | null = null;
    let early: VerifiedCaller | null = null;
    // a DPoP proof whose signature is still being checked (see TokenVerifier.begin)
    let proven: Promise<unknown> | null = null;
    try {
      if (path.startsWith(`${GATEWAY_PATHS.metadata}/`))
        return this.metadata(path.slice(GATEWAY_PATHS.metadata.length), res);
      const issuer = this.ctx.settings.issuer;
      if (path.startsWith(GATEWAY_PATHS.mcp)) {
        const name = path.slice(GATEWAY_PATHS.mcp.length);
        const state = NAME.test(name) ? this.servers.get(name) : undefined;
        if (!state) throw new GatewayError('not_found', `unknown MCP server \`${name.slice(0, 100)}\``);
        resource = mcpResource(issuer, name);
        upstream = { gateway: 'mcp', name };
        this.checkOrigin(req);
        const begun = await this.ctx.verifier.begin(this.presented(req, path, resource));
        proven = begun.proven;
        early = begun.caller;
        return await handleMcp(this.ctx, state, req, res, begun.caller, requestId, begun.proven);
      }
      const rest = path.slice(GATEWAY_PATHS.http.length);
      const slash = rest.indexOf('/');
      const name = slash < 0 ? rest : rest.slice(0, slash);
      const state = NAME.test(name) ? this.apis.get(name) : undefined;
      if (!state) throw new GatewayError('not_found', `unknown API \`${name.slice(0, 100)}\``);
      resource = httpResource(issuer, name);
      upstream = { gateway: 'http', name };
      this.checkOrigin(req);
      const begun = await this.ctx.verifier.begin(this.presented(req, path, resource));
      proven = begun.proven;
      early = begun.caller;
      const tokenId = begun.caller.tokenId;
      /** Counts a call with this token; the calls before it. */
      const count = () => {
        const before = this.tokenCalls.get(tokenId) ?? 0;
        this.tokenCalls.set(tokenId, before + 1);
        return before;
      };
      // a call with a DPoP proof counts once the proof checked out, whatever its answer
      const pending: PendingProof | null =
        begun.proven?.then((caller) => ({ caller, sessionCalls: count() })) ?? null;
      pending?.catch(() => undefined); // (awaited by the handler, or abandoned with `proven`)
      // (with a proof: the count for the decision worked out meanwhile)
      const calls = pending ? (this.tokenCalls.get(tokenId) ?? 0) : count();
      return await handleHttpApi(
        this.ctx,
        state,
        req,
        res,
        begun.caller,
        slash < 0 ? '/' : rest.slice(slash),
        query,
        requestId,
        calls,
        pending,
      );
    } catch (error) {
      // nothing is answered before the proof checked out: a bad proof is the answer
      const answer = proven
        ? await proven.then(
            () => error,
            (proofError: unknown) => proofError,
          )
        : error;
      if (
        upstream &&
        answer instanceof GatewayError &&
        RECORDED_REFUSALS.has(answer.code) &&
        !answer.unrecorded &&
        req.headers.authorization !== undefined
      )
        this.recordRefusal(req, answer, early, upstream, requestId);
      this.fail(res, answer, resource, requestId);
    }
  }

  /**
   * Records a request refused before any call was decided (a bad token or
   * proof, another agent's session, a malformed request) as `gateway.refuse`.
   * The caller is not taken as authenticated (its proof may be what failed):
   * the actor is anonymous; the target is the agent the presented token was
   * issued to, when its signature verified, else the upstream asked for.
   */
  private recordRefusal(
    req: IncomingMessage,
    error: GatewayError,
    early: VerifiedCaller | null,
    upstream: Upstream,
    requestId: string,
  ): void {
    const presented = early ? { agentId: early.agentId, tokenId: early.tokenId } : error.presentedBy;
    const sourceAddress = req.socket.remoteAddress ?? '';
    // bounded per token (or, for a token Custos did not sign, per address): junk cannot flood the log
    const key = presented ? `t ${presented.tokenId}` : `a ${sourceAddress}`;
    if (this.refusalLimiter.take([{ key, limit: REFUSAL_RECORDS }], this.deps.clock.now()) > 0) {
      if (this.unrecordedRefusals.size >= 10_000) this.unrecordedRefusals.clear();
      this.unrecordedRefusals.set(key, (this.unrecordedRefusals.get(key) ?? 0) + 1);
      return;
    }
    const unrecorded = this.unrecordedRefusals.get(key) ?? 0;
    this.unrecordedRefusals.delete(key);
    const { gateway, name } = upstream;
    void this.ctx.pipeline.audit.record(
      { type: 'anonymous', id: 'unauthenticated', role: 'none', userId: null, requestId },
      {
        action: 'gateway.refuse',
        target: presented
          ? { type: 'agent', id: presented.agentId }
          : { type: gateway === 'mcp' ? 'mcp_server' : 'api', id: name },
        outcome: 'denied',
        // (descriptions may quote what the caller sent: a header, an algorithm)
        reason: `${error.code}: ${error.description.slice(0, 200)}`,
        details: {
          gateway,
          upstream: name,
          error: error.code,
          tokenId: presented?.tokenId ?? null,
          sourceAddress,
          ...(unrecorded > 0 ? { unrecordedBefore: unrecorded } : {}),
        },
      },
    );
  }

  private presented(req: IncomingMessage, path: string, resource: string) {
    const dpop: string[] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === 'dpop') dpop.push(raw[i + 1] ?? '');
    return {
      authorization: req.headers.authorization,
      dpop,
      method: req.method ?? 'GET',
      url: `${this.ctx.settings.issuer}${path}`,
      resource,
    };
  }

  /** Browsers' requests must come from an allowed origin (DNS rebinding, MCP transport security). */
  private checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    if (origin === new URL(this.ctx.settings.issuer).origin || this.ctx.settings.allowedOrigins.has(origin))
      return;
    throw new GatewayError('forbidden_origin', `origin \`${origin.slice(0, 200)}\` is not allowed`);
  }

  private metadata(resourcePath: string, res: ServerResponse): void {
    const issuer = this.ctx.settings.issuer;
    const mcp = /^\/mcp\/([^/]+)$/.exec(resourcePath);
    const http = /^\/gw\/([^/]+)$/.exec(resourcePath);
    const name = mcp?.[1] ?? http?.[1] ?? '';
    const known = mcp ? this.servers.has(name) : http ? this.apis.has(name) : false;
    if (!known) throw new GatewayError('not_found', 'no protected resource here');
    const resource = mcp ? mcpResource(issuer, name) : httpResource(issuer, name);
    const body = JSON.stringify(protectedResourceMetadata(issuer, resource, name));
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'public, max-age=300',
    });
    res.end(body);
  }

  private fail(res: ServerResponse, error: unknown, resource: string | null, requestId: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const known = error instanceof GatewayError ? error : null;
    if (!known) this.deps.logger.error({ err: error, requestId }, 'gateway request failed');
    else if (known.status >= 500)
      this.deps.logger.warn({ err: known.cause ?? known, requestId }, known.description);
    const status = known?.status ?? 500;
    const code = known?.code ?? 'server_error';
    const description =
      known?.description ?? 'an internal error occurred; see the server log with this request id';
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      ...(known?.headers ?? {}),
    };
    if (status === 401 && resource) {
      headers['www-authenticate'] = challenge(
        metadataUrl(this.ctx.settings.issuer, resource),
        code === 'token_required'
          ? null
          : {
              code:
                code === 'use_dpop_nonce'
                  ? 'use_dpop_nonce'
                  : code === 'invalid_dpop_proof'
                    ? 'invalid_dpop_proof'
                    : 'invalid_token',
              description,
            },
      );
    }
    const body = JSON.stringify({ error: code, error_description: description, requestId });
    res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  }

  /** The running stdio connection of a server (tests, refresh). */
  server(name: string): McpServerState | undefined {
    return this.servers.get(name);
  }

  async close(): Promise<void> {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    for (const timer of this.timers) clearInterval(timer);
    for (const timer of this.refreshing.values()) clearTimeout(timer);
    for (const session of this.ctx.sessions.all()) this.ctx.sessions.close(session.id);
    await Promise.all([...this.servers.values()].map((s) => s.stdio?.close()));
    this.servers.clear();
    this.active.close();
    this.ctx.credentials.close();
    closeUpstreamConnections();
  }
}
