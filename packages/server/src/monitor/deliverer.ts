import type { Logger } from 'pino';
import { recordAuditEvent } from '../audit/index.js';
import type { Clock } from '../core/index.js';
import type { DeliveryRecord, Store } from '../storage/index.js';
import { MONITOR_ACTOR } from './findings.js';
import type { MonitorMetrics } from './metrics.js';
import { alertHeaders } from './webhook-sink.js';

const BASE_MS = 2_000;
const MAX_MS = 15 * 60_000;
const PER_ROUND = 50;
/** A receiver that refused a SET as invalid will not accept it later either. */
const NEVER = Number.MAX_SAFE_INTEGER;

/** Wait before attempt `attempts + 1`: 2 s, 4 s, 8 s … up to 15 min, with ±20 % jitter. */
export function backoffMs(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_MS, BASE_MS * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export interface DelivererDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: MonitorMetrics | null;
  /** HMAC key of webhook alerts. */
  readonly webhookSecret: string | null;
  readonly fetch?: typeof fetch;
}

/**
 * Delivers the outbox (alerts and SETs), at least once, in order of due time:
 * a delivery is marked done (and the delivery audited) only after its receiver
 * answered 2xx; otherwise it
 * is retried with exponential backoff, also after a restart (the outbox is in
 * the database, written with the finding). Receivers de-duplicate on the
 * delivery id (`x-custos-delivery`, or the SET's `jti`).
 */
export class Deliverer {
  constructor(private readonly deps: DelivererDeps) {}

  /** Attempts every due delivery once; returns how many were acknowledged. Throws only on store errors. */
  async round(): Promise<number> {
    const { store, clock } = this.deps;
    const due = await store.monitor.deliveries.due(clock.now(), PER_ROUND);
    let delivered = 0;
    for (const d of due) {
      const outcome = await this.attempt(d);
      this.deps.metrics?.deliveries.inc({ channel: d.channel, outcome: outcome.ok ? 'delivered' : 'failed' });
      if (outcome.ok) {
        // the acknowledgement is part of the record: who was told what, when
        await store.transaction(async (tx) => {
          await tx.monitor.deliveries.delivered(d.id, clock.now());
          await recordAuditEvent(tx, clock, MONITOR_ACTOR, {
            action: d.channel === 'webhook' ? 'alert.deliver' : 'security_event.deliver',
            target: d.findingId ? { type: 'finding', id: d.findingId } : null,
            details: { deliveryId: d.id, receiver: d.target, attempts: d.attempts + 1 },
          });
        });
        delivered++;
      } else {
        const attempts = d.attempts + 1;
        const next = outcome.permanent ? NEVER : clock.now() + backoffMs(attempts);
        await store.monitor.deliveries.failed(d.id, attempts, next, outcome.error);
        this.deps.logger.warn(
          { delivery: d.id, channel: d.channel, target: d.target, attempts, error: outcome.error },
          outcome.permanent ? 'delivery refused for good by its receiver' : 'delivery failed; will retry',
        );
      }
    }
    if (due.length > 0 && this.deps.metrics)
      this.deps.metrics.pending.set(await store.monitor.deliveries.pending());
    return delivered;
  }

  private async attempt(
    d: DeliveryRecord,
  ): Promise<{ ok: true } | { ok: false; error: string; permanent: boolean }> {
    const headers: Record<string, string> =
      d.channel === 'webhook'
        ? alertHeaders(this.deps.webhookSecret ?? '', d, Math.floor(this.deps.clock.now() / 1000))
        : { 'content-type': d.contentType, accept: 'application/json' };
    try {
      const response = await (this.deps.fetch ?? fetch)(d.target, {
        method: 'POST',
        headers,
        body: d.body,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text().catch(() => '');
      if (response.ok) return { ok: true };
      // RFC 8935 §2.3: a 400 says the SET itself is unacceptable; retrying cannot help
      const permanent = d.channel === 'set' && response.status === 400;
      return { ok: false, error: `HTTP ${response.status} ${text.slice(0, 200)}`.trim(), permanent };
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error), permanent: false };
    }
  }
}
