import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Actor } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { type Clock, CustosError, notFound } from '../core/index.js';
import { requireAgentAccess } from '../identity/index.js';
import type { MasterKey } from '../secrets/index.js';
import type { RecentEvents, Store } from '../storage/index.js';
import { Baseline, parseBaselineData } from './baseline.js';
import { Deliverer } from './deliverer.js';
import { createMonitorMetrics, type MonitorMetrics } from './metrics.js';
import { MonitorPipeline } from './pipeline.js';
import { SetSigner } from './set-emitter.js';
import { DEFAULT_SETTINGS, type MonitorSettings } from './settings.js';

/** The monitor as the server runs it. */
export interface MonitorService {
  readonly enabled: boolean;
  readonly settings: MonitorSettings;
  /** Null when monitoring is turned off. */
  readonly pipeline: MonitorPipeline | null;
  /** Null unless SET receivers are configured. */
  readonly signer: SetSigner | null;
  readonly metrics: MonitorMetrics | null;
  stop(): Promise<void>;
}

/** The detectors' settings from the server configuration. */
export function monitorSettingsFrom(config: Config): MonitorSettings {
  return {
    ...DEFAULT_SETTINGS,
    learningMs: config.monitorLearningSeconds * 1000,
    detectors: config.monitorDetectors,
    rules: config.monitorResponseRules,
    tags: config.monitorResourceTags,
  };
}

/**
 * Starts the monitor: its metrics, the SET signer (when receivers are
 * configured), the outbox deliverer and the pipeline on its timer. With
 * monitoring turned off, nothing runs (findings stay readable).
 */
export async function startMonitor(
  deps: {
    store: Store;
    clock: Clock;
    logger: Logger;
    master: MasterKey;
    registry: Registry;
    fetch?: typeof fetch;
    /** What this process's group committer just committed (see `RecentEvents`). */
    recent?: RecentEvents | null;
  },
  config: Config,
): Promise<MonitorService> {
  const settings = monitorSettingsFrom(config);
  if (!config.monitorEnabled) {
    return {
      enabled: false,
      settings,
      pipeline: null,
      signer: null,
      metrics: null,
      stop: async () => undefined,
    };
  }
  const metrics = createMonitorMetrics(deps.registry);
  const signer = config.monitorSetReceivers.length > 0 ? await SetSigner.load(deps) : null;
  const deliverer = new Deliverer({
    store: deps.store,
    clock: deps.clock,
    logger: deps.logger,
    metrics,
    webhookSecret: config.monitorWebhookSecret,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  const pipeline = new MonitorPipeline(
    {
      store: deps.store,
      clock: deps.clock,
      logger: deps.logger,
      metrics,
      deliverer,
      issuer: config.issuer,
      recent: deps.recent ?? null,
    },
    {
      settings,
      intervalMs: config.monitorIntervalMs,
      // events read per query: on SQLite the read and parse hold the event loop (≈ 12 µs an event)
      batchSize: 64,
      baselineFlushMs: 10_000,
      cursorFlushMs: 1_000,
      webhook:
        config.monitorWebhookUrl && config.monitorWebhookSecret
          ? { url: config.monitorWebhookUrl, secret: config.monitorWebhookSecret }
          : null,
      setReceivers: config.monitorSetReceivers,
      setSigner: signer,
    },
  );
  pipeline.start();
  return { enabled: true, settings, pipeline, signer, metrics, stop: () => pipeline.stop() };
}

/** What the monitor has learned about one agent, for people to read. */
export interface BaselineView {
  readonly agentId: string;
  readonly learned: boolean;
  readonly learning: boolean;
  readonly learningEndsAt: number | null;
  readonly firstSeen: number | null;
  readonly lastSeen: number | null;
  readonly events: number;
  readonly resources: readonly string[];
  readonly sourceAddresses: readonly string[];
  readonly callPeakPerMinute: number;
  readonly tokenPeakPerMinute: number;
  readonly bytesPeak: number;
  readonly denyRatio: number;
  /** Learned activity by hour of the week (UTC, Monday 00:00 first). */
  readonly hourOfWeek: readonly number[];
}

/**
 * An agent's baseline: the live one on the node running the pipeline, else
 * the one last persisted (at most a few seconds older). Admins and auditors see
 * every agent's, owners their own.
 */
export async function agentBaseline(
  deps: { store: Store; clock: Clock; monitor: MonitorService },
  actor: Actor,
  agentId: string,
): Promise<BaselineView> {
  if (actor.role === 'resource_server')
    throw new CustosError('forbidden', 'this token cannot read baselines');
  const agent = await deps.store.agents.get(agentId, { tags: false });
  if (!agent) throw notFound('agent', agentId);
  requireAgentAccess(actor, agent);
  let baseline = deps.monitor.pipeline?.detectors?.baseline(agentId) ?? null;
  if (!baseline) {
    const stored = await deps.store.monitor.baselines.get(agentId);
    const data = stored === null ? null : parseBaselineData(JSON.parse(stored));
    baseline = data ? new Baseline(data.firstAt, data) : null;
  }
  const round = (n: number) => Math.round(n * 1000) / 1000;
  if (!baseline) {
    return {
      agentId,
      learned: false,
      learning: true,
      learningEndsAt: null,
      firstSeen: null,
      lastSeen: null,
      events: 0,
      resources: [],
      sourceAddresses: [],
      callPeakPerMinute: 0,
      tokenPeakPerMinute: 0,
      bytesPeak: 0,
      denyRatio: 0,
      hourOfWeek: new Array(168).fill(0),
    };
  }
  const endsAt = baseline.firstAt + deps.monitor.settings.learningMs;
  return {
    agentId,
    learned: true,
    learning: deps.clock.now() < endsAt,
    learningEndsAt: endsAt,
    firstSeen: baseline.firstAt,
    lastSeen: baseline.lastAt,
    events: round(baseline.events),
    resources: [...baseline.resources].sort(),
    sourceAddresses: [...baseline.addresses.keys()].sort(),
    callPeakPerMinute: round(baseline.callPeak),
    tokenPeakPerMinute: round(baseline.tokenPeak),
    bytesPeak: Math.round(baseline.bytesPeak),
    denyRatio: round(baseline.denyRatio()),
    hourOfWeek: Array.from(baseline.hours, round),
  };
}
