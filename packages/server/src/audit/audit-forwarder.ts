import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../core/index.js';
import type { AuditEventRecord, Store } from '../storage/index.js';
import { toAuditView } from './event-view.js';
import { toOcsf } from './export-formats.js';

export interface ForwarderSettings {
  /** The sink's name: its cursor row in `audit_sinks`. */
  readonly name: string;
  /** Where batches are POSTed. */
  readonly url: string;
  /** HMAC-SHA256 key of the `x-custos-signature` header. */
  readonly secret: string;
  /** `json`: the API view of each event; `ocsf`: OCSF 1.3 objects. */
  readonly format: 'json' | 'ocsf';
  /** Largest batch per request. */
  readonly batchSize: number;
  /** How often to look for new events (and retry a failed delivery at the earliest). */
  readonly intervalMs: number;
  readonly productVersion: string;
  /**
   * Who holds the lease: stable across restarts of the same node (host and
   * port), so a node restarted after a crash resumes at once instead of
   * waiting for its own old lease to lapse. Default: random per process.
   */
  readonly owner?: string;
}

/** The signature header value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signDelivery(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

const LEASE_MS = 30_000;
const MAX_BACKOFF_MS = 60_000;

/**
 * Forwards the audit log, in order, to a webhook, live. Delivery is at least
 * once and never skips: the sink's cursor (the last sequence number the
 * receiver acknowledged with a 2xx) lives in the database and advances only
 * after the acknowledgement, so a restart, a crash or a failing receiver
 * resumes from the first unacknowledged event. A lease lets one node at a time
 * forward (others stand by and take over when it lapses). Receivers should
 * de-duplicate on `seq`: a delivery that was received but whose
 * acknowledgement was lost is sent again.
 */
export class AuditForwarder {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private failures = 0;
  private notBefore = 0;
  private ensured = false;
  /** The cursor as this node last saw it acknowledged (null: not known yet). */
  private acknowledged: number | null = null;
  private readonly owner: string;

  constructor(
    private readonly deps: { store: Store; clock: Clock; logger: Logger; fetch?: typeof fetch },
    private readonly settings: ForwarderSettings,
  ) {
    this.owner = settings.owner ?? `node_${randomBytes(8).toString('hex')}`;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.settings.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.deps.store.auditLog
      .releaseSink(this.settings.name, this.owner)
      .catch((error: unknown) =>
        this.deps.logger.warn({ err: error }, 'could not release the audit sink lease'),
      );
  }

  /** One round: deliver everything new, batch by batch, until caught up or a delivery fails. Never throws. */
  tick(): Promise<void> {
    this.running ??= this.round()
      .catch((error: unknown) => {
        this.backoff();
        this.deps.logger.error({ err: error, sink: this.settings.name }, 'audit forwarding round failed');
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private backoff(): void {
    this.failures++;
    const delay = Math.min(MAX_BACKOFF_MS, this.settings.intervalMs * 2 ** Math.min(this.failures, 16));
    this.notBefore = this.deps.clock.now() + delay;
  }

  private async round(): Promise<void> {
    const { store, clock } = this.deps;
    const { name } = this.settings;
    if (clock.now() < this.notBefore) return;
    // idle: nothing appended since the last acknowledged event, so no write at all
    if (this.acknowledged !== null && (await store.auditLog.head()).seq <= this.acknowledged) return;
    // a new sink starts at the oldest event still stored
    const first = await store.auditLog.firstSeq();
    if (!this.ensured) {
      await store.auditLog.ensureSink(name, (first ?? 1) - 1, clock.now());
      this.ensured = true;
    }
    const now = clock.now();
    const sink = await store.auditLog.leaseSink(name, this.owner, now + LEASE_MS, now);
    if (!sink) return; // another node forwards
    let cursor = sink.cursor;
    if (first !== null && cursor < first - 1) {
      // Pruning waits for every sink, so only a sink row older than a prune gets here:
      // the events it missed are in the retention archive, not in the log.
      this.deps.logger.error(
        { sink: name, cursor, first },
        'audit sink is behind the oldest stored event; events up to it are only in the retention archive',
      );
      if (!(await store.auditLog.advanceSink(name, this.owner, cursor, first - 1, clock.now()))) return;
      cursor = first - 1;
    }
    for (;;) {
      const page = await store.audit.list({ limit: this.settings.batchSize, afterSeq: cursor });
      const batch = contiguous(page.items, cursor);
      if (batch.length === 0) {
        this.acknowledged = cursor;
        return;
      }
      const last = batch[batch.length - 1] as AuditEventRecord;
      try {
        await this.deliver(batch);
      } catch (error) {
        this.backoff();
        const message = error instanceof Error ? error.message : String(error);
        await store.auditLog.sinkFailed(name, this.owner, message, clock.now());
        this.deps.logger.warn(
          { sink: name, from: cursor + 1, to: last.seq, err: error },
          'audit sink delivery failed; will retry',
        );
        return;
      }
      this.failures = 0;
      this.notBefore = 0;
      // INVARIANT: the cursor moves only past events the receiver acknowledged
      if (!(await store.auditLog.advanceSink(name, this.owner, cursor, last.seq, clock.now()))) return;
      cursor = last.seq;
      await store.auditLog.leaseSink(name, this.owner, clock.now() + LEASE_MS, clock.now());
    }
  }

  private async deliver(batch: readonly AuditEventRecord[]): Promise<void> {
    const views = batch.map(toAuditView);
    const events =
      this.settings.format === 'ocsf' ? views.map((v) => toOcsf(v, this.settings.productVersion)) : views;
    const body = JSON.stringify({
      sink: this.settings.name,
      format: this.settings.format,
      from: batch[0]?.seq,
      to: batch[batch.length - 1]?.seq,
      events,
    });
    const response = await (this.deps.fetch ?? fetch)(this.settings.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-custos-signature': signDelivery(
          this.settings.secret,
          body,
          Math.floor(this.deps.clock.now() / 1000),
        ),
        'x-custos-delivery': `${this.settings.name}:${batch[0]?.seq}-${batch[batch.length - 1]?.seq}`,
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) throw new Error(`audit sink answered HTTP ${response.status}`);
  }
}

/** The events that follow `cursor` without a gap (a gap would be a bug or a prune: never skip over it). */
function contiguous(items: readonly AuditEventRecord[], cursor: number): AuditEventRecord[] {
  const out: AuditEventRecord[] = [];
  let expected = cursor + 1;
  for (const e of items) {
    if (e.seq !== expected) break;
    out.push(e);
    expected++;
  }
  return out;
}
