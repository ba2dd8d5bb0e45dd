import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type Clock, CustosError } from '../core/index.js';
import { applyTransition } from '../identity/index.js';
import type {
  AuditEventRecord,
  DeliveryRecord,
  RecentEvents,
  Store,
  TxRepositories,
} from '../storage/index.js';
import { ACTIVITY_ACTIONS, toActivity } from './activity-event.js';
import { parseBaselineData } from './baseline.js';
import type { Deliverer } from './deliverer.js';
import { DetectorEngine } from './detector-engine.js';
import type { Signal } from './detectors/index.js';
import { MONITOR_ACTOR, raiseFinding } from './findings.js';
import type { MonitorMetrics } from './metrics.js';
import { responseFor, ruleText } from './response-rules.js';
import { restrictAgent } from './restrictions.js';
import { SET_TRIGGERS, type SetSigner, securityEventsOf, setDelivery } from './set-emitter.js';
import type { MonitorSettings } from './settings.js';
import { type WebhookSettings, webhookDelivery } from './webhook-sink.js';

const LEASE_MS = 15_000;
const YIELD_EVERY = 64;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
const MAX_BACKOFF_MS = 30_000;
/** Everything the pipeline reads from the log: activity, and what becomes Security Event Tokens. */
const ACTIONS = [...new Set([...ACTIVITY_ACTIONS, ...SET_TRIGGERS])];
const ACTION_SET: ReadonlySet<string> = new Set(ACTIONS);

export interface PipelineDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: MonitorMetrics | null;
  readonly deliverer: Deliverer;
  /** The `iss` of Security Event Tokens. */
  readonly issuer: string;
  /** Events this process just committed, taken from memory when it holds a whole range. */
  readonly recent?: RecentEvents | null;
}

export interface PipelineOptions {
  readonly settings: MonitorSettings;
  /** How often to look for new audit events. */
  readonly intervalMs: number;
  /** Most events read per batch. */
  readonly batchSize: number;
  /** Baselines are persisted at most this often (the gap is replayed after a restart). */
  readonly baselineFlushMs: number;
  /**
   * With nothing else to record, the cursor is persisted at most this often
   * (after a crash, at most this much activity is looked at again; findings
   * repeat into the open ones).
   */
  readonly cursorFlushMs: number;
  readonly webhook: WebhookSettings | null;
  readonly setReceivers: readonly string[];
  readonly setSigner: SetSigner | null;
  /** The state row's name (one pipeline per database). */
  readonly name?: string;
}

class LeaseLost extends Error {
  override readonly name = 'LeaseLost';
}

/**
 * The monitor's pipeline: it tails the audit log by sequence number (the log
 * is the only source of activity), runs the detectors, and commits in one
 * transaction the findings a batch raised, their automatic responses, the
 * alerts and SETs to deliver, and the advanced cursor, so a crash or restart
 * resumes where the last commit left off (a batch with nothing to record
 * commits its cursor at most every `cursorFlushMs`). Baselines are persisted every
 * `baselineFlushMs` with the sequence number they include; on start, the events
 * between that and the cursor are replayed (learning only). It runs off the
 * request path, on a timer, on one node at a time (a lease in the store); if
 * anything fails, the in-memory state is dropped and rebuilt from the store.
 */
export class MonitorPipeline {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private engine: DetectorEngine | null = null;
  /** The last event processed, and the last one whose processing is committed. */
  private cursor = 0;
  private persisted = 0;
  private leaseUntil = 0;
  private lastFlush = 0;
  private lastCommit = 0;
  private failures = 0;
  private notBefore = 0;
  private readonly owner = `node_${randomBytes(8).toString('hex')}`;
  private readonly name: string;

  constructor(
    private readonly deps: PipelineDeps,
    readonly options: PipelineOptions,
  ) {
    this.name = options.name ?? 'default';
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer, finishes the round in flight, persists the baselines and gives up the lease. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    if (this.engine) {
      await this.flushBaselines().catch((error: unknown) =>
        this.deps.logger.warn({ err: error }, 'could not persist monitor baselines on shutdown'),
      );
    }
    await this.deps.store.monitor.state
      .release(this.name, this.owner)
      .catch((error: unknown) =>
        this.deps.logger.warn({ err: error }, 'could not release the monitor lease'),
      );
  }

  /** One round: process every new event (batch by batch), then deliver what is due. Never throws. */
  tick(): Promise<void> {
    this.running ??= this.round()
      .then(() => {
        this.failures = 0;
      })
      .catch((error: unknown) => {
        this.engine = null; // rebuilt from the store on the next round
        this.failures++;
        this.notBefore = this.deps.clock.now() + Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.failures);
        if (error instanceof LeaseLost) this.deps.logger.info('monitor lease taken over by another node');
        else this.deps.logger.error({ err: error }, 'monitor round failed; will retry');
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  /** The last audit sequence number this node processed (null until it runs the pipeline). */
  get processed(): number | null {
    return this.engine ? this.cursor : null;
  }

  /** The detector engine, once initialised (for the baseline view). */
  get detectors(): DetectorEngine | null {
    return this.engine;
  }

  private async round(): Promise<void> {
    const { clock } = this.deps;
    if (clock.now() < this.notBefore) return;
    if (!(await this.holdLease())) return;
    if (!this.engine) await this.initialize();
    for (;;) {
      const more = await this.batch();
      if (!more) break;
      // a batch's read is one synchronous query on SQLite: requests get the loop between batches
      await yieldToLoop();
      if (clock.now() > this.leaseUntil - LEASE_MS / 2 && !(await this.holdLease())) return;
    }
    await this.deps.deliverer.round();
  }

  /** Takes or renews the lease (only when half of it is left: renewing is a write). */
  private async holdLease(): Promise<boolean> {
    const now = this.deps.clock.now();
    if (this.engine && now < this.leaseUntil - LEASE_MS / 2) return true;
    const { store } = this.deps;
    if (!(await store.monitor.state.get(this.name))) {
      // A new monitor learns from the history already in the log, but raises nothing about the past.
      const head = (await store.auditLog.head()).seq;
      const first = await store.auditLog.firstSeq();
      await store.monitor.state.ensure(this.name, head, first === null ? head : first - 1, now);
    }
    const state = await store.monitor.state.lease(this.name, this.owner, now + LEASE_MS, now);
    if (!state) {
      this.engine = null;
      return false;
    }
    if (this.engine && state.cursor !== this.persisted) this.engine = null; // someone else moved it meanwhile
    this.leaseUntil = now + LEASE_MS;
    return true;
  }

  /** Loads the baselines and replays (learning only) what they do not include yet. */
  private async initialize(): Promise<void> {
    const { store } = this.deps;
    const state = await store.monitor.state.get(this.name);
    if (!state) throw new Error('INVARIANT: the monitor state row is missing');
    const baselines = [];
    for (const row of await store.monitor.baselines.list()) {
      const data = parseBaselineData(JSON.parse(row.data));
      if (data) baselines.push([row.agentId, data] as const);
      else
        this.deps.logger.warn({ agent: row.agentId }, 'unreadable monitor baseline: the agent learns again');
    }
    const engine = new DetectorEngine(this.options.settings, baselines);
    let from = Math.min(state.baselineSeq, state.cursor);
    const replayed = from;
    while (from < state.cursor) {
      const events = await store.monitor.events(
        from,
        state.cursor,
        ACTIVITY_ACTIONS,
        [],
        this.options.batchSize,
      );
      for (const [i, e] of events.entries()) {
        if (i > 0 && i % YIELD_EVERY === 0) await yieldToLoop();
        const activity = toActivity(e);
        if (activity) engine.learnOnly(activity);
      }
      from = events.length < this.options.batchSize ? state.cursor : (events.at(-1) as AuditEventRecord).seq;
    }
    this.engine = engine;
    this.cursor = state.cursor;
    this.persisted = state.cursor;
    this.lastFlush = replayed < state.cursor ? 0 : this.deps.clock.now();
    this.lastCommit = this.deps.clock.now();
    this.deps.logger.info(
      { cursor: state.cursor, baselines: baselines.length, replayed: state.cursor - replayed },
      'monitor pipeline started',
    );
  }

  /** Processes one batch of new events; true when more are waiting. */
  private async batch(): Promise<boolean> {
    const { store, clock, metrics } = this.deps;
    const engine = this.engine as DetectorEngine;
    const head = (await store.auditLog.head()).seq;
    const now = clock.now();
    if (head <= this.cursor) {
      metrics?.lag.set(0);
      // idle: write only what changed (a quiet node must not write every few seconds)
      if (
        (now - this.lastFlush >= this.options.baselineFlushMs && engine.hasDirty()) ||
        (this.persisted < this.cursor && now - this.lastCommit >= this.options.cursorFlushMs)
      )
        await this.flushBaselines();
      return false;
    }
    const started = process.hrtime.bigint();
    const events =
      this.deps.recent?.take(this.cursor, head, ACTION_SET, this.options.batchSize) ??
      (await store.monitor.events(this.cursor, head, ACTIONS, [], this.options.batchSize));
    const full = events.length >= this.options.batchSize;
    const through = full ? (events.at(-1) as AuditEventRecord).seq : head;
    const signals: Signal[] = [];
    const sets: DeliveryRecord[] = [];
    let processed = 0;
    for (const [i, e] of events.entries()) {
      // give the event loop back now and then: requests must not wait behind a batch
      if (i > 0 && i % YIELD_EVERY === 0) await yieldToLoop();
      const activity = toActivity(e);
      if (activity) {
        processed++;
        for (const s of engine.process(activity)) signals.push(s);
      }
      if (this.options.setSigner && this.options.setReceivers.length > 0 && SET_TRIGGERS.includes(e.action)) {
        for (const event of securityEventsOf(e)) {
          for (const receiver of this.options.setReceivers) {
            const jwt = await this.options.setSigner.sign(this.deps.issuer, receiver, event, now);
            sets.push(setDelivery(receiver, jwt, now));
          }
        }
      }
    }
    const flush = now - this.lastFlush >= this.options.baselineFlushMs && engine.hasDirty();
    // Nothing to record: the cursor is persisted at most every `cursorFlushMs`, so a busy log
    // does not cost a write per batch. Whatever is recorded carries the cursor with it.
    const commit =
      signals.length > 0 || sets.length > 0 || flush || now - this.lastCommit >= this.options.cursorFlushMs;
    const baselines = flush ? this.snapshot() : [];
    const responses: string[] = [];
    let alerts = 0;
    if (commit) {
      const from = this.persisted;
      await store.transaction(async (tx) => {
        for (const s of signals) {
          const response = await this.raise(tx, s);
          if (response) {
            responses.push(response.action);
            if (response.alerted) alerts++;
          }
        }
        for (const d of sets) await tx.monitor.deliveries.insert(d);
        for (const [agentId, data] of baselines) await tx.monitor.baselines.put(agentId, data, now);
        if (flush) await tx.monitor.state.setBaselineSeq(this.name, this.owner, through, now);
        if (!(await tx.monitor.state.advance(this.name, this.owner, from, through, now)))
          throw new LeaseLost();
      });
      this.persisted = through;
      this.lastCommit = now;
      if (flush) this.lastFlush = now;
    }
    this.cursor = through;
    if (metrics) {
      metrics.events.inc(processed);
      for (const s of signals) metrics.signals.inc({ detector: s.detector });
      for (const action of responses) metrics.responses.inc({ action });
      const last = events.at(-1);
      metrics.lag.set(full && last ? Math.max(0, (clock.now() - last.at) / 1000) : 0);
      metrics.batch.observe(Number(process.hrtime.bigint() - started) / 1e9);
      if (alerts + sets.length > 0) metrics.pending.set(await store.monitor.deliveries.pending());
    }
    return full;
  }

  /**
   * A signal inside the batch's transaction: the finding (new, or a repeat of
   * an open one); for a new finding, the response its rules call for and the
   * alert. Returns the response taken for a new finding, null for a repeat.
   */
  private async raise(tx: TxRepositories, s: Signal): Promise<{ action: string; alerted: boolean } | null> {
    const { clock, metrics } = this.deps;
    const { finding, created } = await raiseFinding(tx, clock, s);
    if (!created) return null;
    metrics?.findings.inc({ detector: s.detector, severity: s.severity });
    const { action, rule } = responseFor(this.options.settings.rules, s);
    const reason = `monitor finding ${finding.id} (${s.detector}, ${s.severity}${rule ? `, rule ${ruleText(rule)}` : ''}): ${s.title}`;
    let response: string = action;
    try {
      if (action === 'suspend') {
        await tx.savepoint(() => applyTransition(tx, clock, MONITOR_ACTOR, s.agentId, 'suspend', reason));
      } else if (action === 'require_approval') {
        await tx.savepoint(() =>
          restrictAgent(tx, clock, MONITOR_ACTOR, s.agentId, { findingId: finding.id, reason }),
        );
      }
    } catch (error) {
      // an agent already suspended (or gone) needs no suspending: the finding still stands
      if (!(error instanceof CustosError)) throw error;
      response = `${action} (not applied: ${error.message})`;
    }
    await tx.monitor.findings.setResponse(finding.id, response, clock.now());
    const webhook = this.options.webhook;
    if (webhook) {
      await tx.monitor.deliveries.insert(
        webhookDelivery(webhook, { ...finding, response }, response, clock.now()),
      );
    }
    return { action, alerted: webhook !== null };
  }

  /** Serialises the baselines changed since the last flush (and marks them clean). */
  private snapshot(): [string, string][] {
    const engine = this.engine as DetectorEngine;
    const out: [string, string][] = [];
    for (const [agentId, baseline] of engine.dirty()) out.push([agentId, JSON.stringify(baseline.toData())]);
    engine.markClean(out.map(([id]) => id));
    return out;
  }

  /** Persists the changed baselines, and the cursor they include. */
  private async flushBaselines(): Promise<void> {
    const { store, clock } = this.deps;
    const baselines = this.snapshot();
    const now = clock.now();
    const [from, to] = [this.persisted, this.cursor];
    await store.transaction(async (tx) => {
      for (const [agentId, data] of baselines) await tx.monitor.baselines.put(agentId, data, now);
      await tx.monitor.state.setBaselineSeq(this.name, this.owner, to, now);
      if (from !== to && !(await tx.monitor.state.advance(this.name, this.owner, from, to, now)))
        throw new LeaseLost();
    });
    this.persisted = to;
    this.lastFlush = now;
    this.lastCommit = now;
  }
}
