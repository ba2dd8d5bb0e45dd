import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { AuditForwarder, Checkpointer, loadAuditKey, SYSTEM_ACTOR } from '../audit/index.js';
import { type Config, insecureSettings, loadMasterKey } from '../config/index.js';
import { type Clock, systemClock } from '../core/index.js';
import { Gateway, refreshMcpServer } from '../gateway/index.js';
import { ensureBootstrapToken, pruneSessions } from '../identity/index.js';
import { startMonitor } from '../monitor/index.js';
import { ClientAuthenticator, DpopNonces, KeyRing, type OAuthDeps } from '../oauth/index.js';
import { PolicyEngine } from '../policy/index.js';
import { type MasterKey, masterKeyFrom } from '../secrets/index.js';
import { createGroupCommitter, openStore, RecentEvents, type Store } from '../storage/index.js';
import { buildApp } from './app.js';
import { createMetrics } from './metrics.js';

const DAY_MS = 86_400_000;

/** A purpose-specific key derived from the master key, so one key never serves two uses. */
function hmacKey(master: Buffer, purpose: string): Buffer {
  return createHmac('sha256', master).update(`custos:${purpose}`).digest();
}

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface RunningServer {
  /** Where it listens, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: Store;
  /** The master key (with previous keys) this node seals and unseals with. */
  readonly master: MasterKey;
  /** Set on the first start of an empty database. */
  readonly bootstrap: { readonly token: string; readonly generated: boolean } | null;
  /** Stops accepting requests, lets in-flight ones finish, closes the store. */
  close(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
}

/** The JSON logger; authorization headers and cookies are redacted wherever they appear. */
export function createLogger(level: Config['logLevel']): Logger {
  return pino({
    level,
    base: { service: 'custos' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.token', '*.bootstrapToken'],
      censor: '[redacted]',
    },
  });
}

/**
 * Starts a Custos node: loads the master key, opens and migrates the store,
 * creates the bootstrap admin token on an empty database, and listens.
 * Fails fast (throws) on any configuration or storage problem.
 */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  for (const warning of insecureSettings(config)) logger.warn({ insecure: true }, warning);

  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const masterKey = loadMasterKey(config);
  const master = masterKeyFrom(masterKey.key, masterKey.previous);
  if (masterKey.created)
    logger.info({ path: config.masterKeyFile }, 'generated a new master key file (mode 0600)');

  const metrics = createMetrics();
  const store = await openStore(config.databaseUrl, {
    migrate: true,
    observe: metrics.observeStore,
    nowMs: clock.now(),
  });
  const timers: NodeJS.Timeout[] = [];
  let stopCheckpoints = async (): Promise<void> => undefined;
  let stopSink = async (): Promise<void> => undefined;
  let stopPolicy = (): void => undefined;
  let stopGateway = async (): Promise<void> => undefined;
  let stopMonitor = async (): Promise<void> => undefined;
  let app: FastifyInstance | undefined;
  try {
    const keys = new KeyRing(
      { store, clock, master },
      {
        alg: config.signingAlg,
        // a retired key stays published until the longest-lived token it signed has expired
        retiredPublishMs: (3600 + config.clockLeeway) * 1000,
        rotationPeriodMs: config.keyRotationDays * DAY_MS,
        refreshMs: 5_000,
      },
    );
    await keys.initialize();
    const policy = new PolicyEngine({ store, clock });
    stopPolicy = () => policy.close();
    // load the policy state now: a broken one shows in the log at start, not at the first decision
    await policy
      .current()
      .catch((error: unknown) => logger.error({ err: error }, 'policy state failed to load'));
    // the monitor takes what this process just committed from memory, not read back from the store
    // (while this node's monitor runs rounds: one standing by keeps nothing)
    const recent = config.monitorEnabled
      ? new RecentEvents(4096, Math.max(10_000, 4 * config.monitorIntervalMs))
      : null;
    const oauth: OAuthDeps = {
      policy,
      store,
      clock,
      issuer: config.issuer,
      keys,
      clients: new ClientAuthenticator(
        { store, clock },
        {
          issuer: config.issuer,
          leewaySeconds: config.clockLeeway,
          maxLifetimeSeconds: config.assertionMaxLifetime,
        },
      ),
      committer: createGroupCommitter(store, {
        observe: metrics.observeBatch,
        committed: recent ? (units, outcomes) => recent.add(units, outcomes) : undefined,
      }),
      dpop: {
        maxAgeSeconds: config.dpopMaxAge,
        leewaySeconds: config.clockLeeway,
        nonces: config.dpopNonce ? new DpopNonces(hmacKey(master.key, 'dpop-nonce')) : null,
      },
      accessTokenTtlSeconds: config.accessTokenTtl,
      delegationMaxDepth: config.delegationMaxDepth,
    };
    const auditKey = await loadAuditKey({ store, clock, master }, config.auditOrigin);
    const checkpointer = new Checkpointer({ store, clock, logger }, auditKey, {
      origin: config.auditOrigin,
      everyEvents: config.auditCheckpointEvery,
      intervalMs: config.auditCheckpointSeconds * 1000,
      file: config.auditCheckpointFile,
      webhook: config.auditCheckpointWebhook,
    });
    stopCheckpoints = async () => {
      await checkpointer.stop();
      // a last checkpoint on the way out covers the tail this node wrote
      await checkpointer.tick(true);
    };
    checkpointer.start();
    if (config.auditSinkWebhook && config.auditSinkSecret) {
      const forwarder = new AuditForwarder(
        { store, clock, logger },
        {
          name: 'webhook',
          url: config.auditSinkWebhook,
          secret: config.auditSinkSecret,
          format: config.auditSinkFormat,
          batchSize: 500,
          intervalMs: config.auditSinkIntervalMs,
          productVersion: VERSION,
          owner: `${hostname()}:${config.port}`,
        },
      );
      stopSink = () => forwarder.stop();
      forwarder.start();
    }
    const gateway = new Gateway(
      {
        store,
        clock,
        logger,
        master,
        keys,
        engine: policy,
        committer: oauth.committer,
        dpop: oauth.dpop,
        leewaySeconds: config.clockLeeway,
      },
      {
        issuer: config.issuer,
        allowedOrigins: new Set(config.gatewayAllowedOrigins),
        bodyLimit: config.gatewayBodyLimit,
        upstreamTimeoutMs: config.gatewayUpstreamTimeout * 1000,
        approvalTtlMs: config.approvalTtl * 1000,
        agentLimit:
          config.gatewayAgentRate > 0
            ? { rate: config.gatewayAgentRate, burst: config.gatewayAgentBurst }
            : undefined,
        audit: {
          mode: config.gatewayAuditMode,
          keepArguments: config.gatewayKeepArguments,
          argumentsKey: hmacKey(master.key, 'gateway-arguments'),
        },
      },
    );
    stopGateway = () => gateway.close();
    await gateway.start();
    const monitor = await startMonitor(
      { store, clock, logger, master, registry: metrics.registry, recent },
      config,
    );
    stopMonitor = () => monitor.stop();
    const deps = {
      store,
      clock,
      config,
      oauth,
      policy,
      master,
      audit: { key: auditKey, checkpointer },
      gateway,
      monitor,
      settings: {
        agentDefaultTtlMs: config.agentDefaultTtlDays * DAY_MS,
        adminTokenDefaultTtlMs: config.adminTokenTtlDays * DAY_MS,
      },
    };
    gateway.onToolsChanged = (server) => {
      refreshMcpServer({ store, clock, engine: policy, gateway }, SYSTEM_ACTOR, server).catch(
        (error: unknown) =>
          logger.warn({ err: error, server }, 'refreshing the tools of an MCP server failed'),
      );
    };
    timers.push(
      setInterval(() => {
        keys
          .rotateIfDue()
          .catch((error: unknown) => logger.error({ err: error }, 'scheduled key rotation failed'));
      }, 60_000).unref(),
      setInterval(() => {
        const now = clock.now();
        Promise.all([
          store.usedJtis.deleteExpired(now),
          store.issuedTokens.deleteExpired(now),
          pruneSessions({ store, clock, settings: deps.settings }),
        ]).catch((error: unknown) => logger.error({ err: error }, 'pruning expired token records failed'));
      }, 300_000).unref(),
    );
    app = buildApp(deps, { logger, metrics, version: VERSION });
    await app.listen({ host: config.host, port: config.port });
    // Only once listening: a first admin token created by a start that then fails
    // (port taken) would be stored but never shown, locking the admin out.
    const bootstrap = await ensureBootstrapToken(deps, config.bootstrapToken);
    const address = app.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const running = app;
    return {
      url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`,
      app: running,
      store,
      master,
      bootstrap,
      close: async () => {
        for (const timer of timers) clearInterval(timer);
        // the gateway first: it ends its long-lived streams, which would hold the server open
        await stopGateway();
        await running.close();
        await oauth.committer.drain();
        await stopMonitor();
        stopPolicy();
        await stopCheckpoints();
        await stopSink();
        await store.close();
      },
    };
  } catch (error) {
    for (const timer of timers) clearInterval(timer);
    await app?.close();
    await stopCheckpoints().catch(() => undefined);
    await stopSink().catch(() => undefined);
    await stopGateway().catch(() => undefined);
    await stopMonitor().catch(() => undefined);
    stopPolicy();
    await store.close();
    throw error;
  }
}
