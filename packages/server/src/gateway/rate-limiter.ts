import type { RateLimit } from './upstream-spec.js';

const MAX_BUCKETS = 100_000;

/**
 * Token buckets, in memory, per node: `rate` tokens per second refill a bucket
 * of `burst`; a request takes one. Limits are per node, so with N nodes behind
 * a balancer an agent gets up to N times the rate.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** Takes one token from every bucket, or none: returns 0, or how long to wait (ms) for the scarcest. */
  take(
    checks: readonly { readonly key: string; readonly limit: RateLimit | undefined }[],
    nowMs: number,
  ): number {
    let wait = 0;
    const states: { key: string; tokens: number }[] = [];
    for (const { key, limit } of checks) {
      if (!limit) continue;
      const bucket = this.buckets.get(key);
      const tokens = bucket
        ? Math.min(limit.burst, bucket.tokens + ((nowMs - bucket.at) / 1000) * limit.rate)
        : limit.burst;
      if (tokens < 1) wait = Math.max(wait, Math.ceil(((1 - tokens) / limit.rate) * 1000));
      states.push({ key, tokens });
    }
    if (wait > 0) return wait;
    if (this.buckets.size > MAX_BUCKETS) this.buckets.clear();
    for (const s of states) this.buckets.set(s.key, { tokens: s.tokens - 1, at: nowMs });
    return 0;
  }
}

const MINUTE = 60_000;

/** A sliding one-hour count in one-minute slots. */
class HourCount {
  private readonly slots = new Array<number>(60).fill(0);
  private slotMinute = 0;

  add(nowMs: number): void {
    this.advance(nowMs);
    this.slots[Math.floor(nowMs / MINUTE) % 60] = (this.slots[Math.floor(nowMs / MINUTE) % 60] ?? 0) + 1;
  }

  total(nowMs: number): number {
    this.advance(nowMs);
    let sum = 0;
    for (const n of this.slots) sum += n;
    return sum;
  }

  private advance(nowMs: number): void {
    const minute = Math.floor(nowMs / MINUTE);
    const gap = Math.min(60, minute - this.slotMinute);
    for (let i = 1; i <= gap; i++) this.slots[(this.slotMinute + i) % 60] = 0;
    if (gap > 0) this.slotMinute = minute;
  }
}

/**
 * Per-agent call counters for policies (`context.session`): calls in the last
 * hour by an agent, and by an agent on one tool or route, through this node.
 */
export class CallCounters {
  private readonly counts = new Map<string, HourCount>();

  private count(key: string): HourCount {
    const found = this.counts.get(key);
    if (found) return found;
    if (this.counts.size > MAX_BUCKETS) this.counts.clear();
    const created = new HourCount();
    this.counts.set(key, created);
    return created;
  }

  /** The counts {@link observe} would return now, without counting a call. */
  peek(
    agentId: string,
    resource: string,
    nowMs: number,
  ): { callsLastHour: number; resourceCallsLastHour: number } {
    return {
      callsLastHour: this.counts.get(agentId)?.total(nowMs) ?? 0,
      resourceCallsLastHour: this.counts.get(`${agentId} ${resource}`)?.total(nowMs) ?? 0,
    };
  }

  /** The counts before this call, then counts it. */
  observe(
    agentId: string,
    resource: string,
    nowMs: number,
  ): { callsLastHour: number; resourceCallsLastHour: number } {
    const agent = this.count(agentId);
    const perResource = this.count(`${agentId} ${resource}`);
    const before = { callsLastHour: agent.total(nowMs), resourceCallsLastHour: perResource.total(nowMs) };
    agent.add(nowMs);
    perResource.add(nowMs);
    return before;
  }
}
