import type { ActivityEvent } from './activity-event.js';

const HOUR_MS = 3_600_000;
const WEEK_HOURS = 168;
const MAX_RESOURCES = 5000;
const MAX_ADDRESSES = 256;
/** Decay is applied at most this often (it is slow: days of half-life). */
const DECAY_STEP_MS = HOUR_MS;

/** Hour of the week (UTC), Monday 00:00 = 0 … Sunday 23:00 = 167. The epoch was a Thursday. */
export function hourOfWeek(at: number): number {
  return (Math.floor(at / HOUR_MS) + 72) % WEEK_HOURS;
}

/** The network an address belongs to, for "usual address" checks: its IPv4 /24 or IPv6 /64. */
export function networkOf(address: string): string {
  if (address.includes(':')) {
    const groups = address.split('::')[0]?.split(':') ?? [];
    return `${groups.slice(0, 4).join(':')}::/64`;
  }
  return `${address.slice(0, address.lastIndexOf('.'))}.0/24`;
}

/** The persisted form of a baseline (JSON in `monitor_baselines.data`). */
export interface BaselineData {
  readonly v: 1;
  readonly firstAt: number;
  readonly lastAt: number;
  readonly decayedAt: number;
  readonly events: number;
  readonly hourOfWeek: readonly number[];
  readonly resources: readonly string[];
  readonly addresses: Readonly<Record<string, number>>;
  readonly callPeak: number;
  readonly tokenPeak: number;
  readonly bytesPeak: number;
  readonly decisions: number;
  readonly denials: number;
}

/**
 * What one agent usually does, learned online from its activity and persisted:
 * activity by hour of the week, the resources (tools, routes…) it uses, the
 * addresses it calls from, its peak call and token-request rate per minute,
 * its deny ratio and its peak data volume. Counts fade with a half-life, so the
 * baseline follows an agent whose work changes; the sets are capped.
 */
export class Baseline {
  firstAt: number;
  lastAt: number;
  decayedAt: number;
  /** Activity count (decayed). */
  events: number;
  readonly hours: Float64Array;
  readonly resources: Set<string>;
  /** Address → last time seen. */
  readonly addresses: Map<string, number>;
  callPeak: number;
  tokenPeak: number;
  bytesPeak: number;
  decisions: number;
  denials: number;
  /** Changed since last persisted. */
  dirty = true;

  constructor(at: number, data?: BaselineData) {
    this.firstAt = data?.firstAt ?? at;
    this.lastAt = data?.lastAt ?? at;
    this.decayedAt = data?.decayedAt ?? at;
    this.events = data?.events ?? 0;
    this.hours = new Float64Array(WEEK_HOURS);
    data?.hourOfWeek.forEach((v, i) => {
      if (i < WEEK_HOURS) this.hours[i] = v;
    });
    this.resources = new Set(data?.resources ?? []);
    this.addresses = new Map(Object.entries(data?.addresses ?? {}));
    this.callPeak = data?.callPeak ?? 0;
    this.tokenPeak = data?.tokenPeak ?? 0;
    this.bytesPeak = data?.bytesPeak ?? 0;
    this.decisions = data?.decisions ?? 0;
    this.denials = data?.denials ?? 0;
    this.dirty = data === undefined;
  }

  /** Lets learned counts fade: each halves every `halfLifeMs`. */
  decay(at: number, halfLifeMs: number): void {
    const elapsed = at - this.decayedAt;
    if (elapsed < DECAY_STEP_MS) return;
    const f = 0.5 ** (elapsed / halfLifeMs);
    for (let i = 0; i < WEEK_HOURS; i++) this.hours[i] = (this.hours[i] as number) * f;
    this.events *= f;
    this.decisions *= f;
    this.denials *= f;
    this.callPeak *= f;
    this.tokenPeak *= f;
    this.bytesPeak *= f;
    this.decayedAt = at;
  }

  /** Learns one activity (the rate and volume peaks are learned by the agent's windows). */
  learn(e: ActivityEvent): void {
    if (e.at > this.lastAt) this.lastAt = e.at;
    if (e.at < this.firstAt) this.firstAt = e.at;
    this.events += 1;
    const h = hourOfWeek(e.at);
    this.hours[h] = (this.hours[h] as number) + 1;
    if (e.resource !== null && this.resources.size < MAX_RESOURCES) this.resources.add(e.resource);
    if (e.sourceAddress !== null) this.rememberAddress(e.sourceAddress, e.at);
    if (e.kind !== 'token') {
      this.decisions += 1;
      if (e.outcome === 'deny') this.denials += 1;
    }
    this.dirty = true;
  }

  private rememberAddress(address: string, at: number): void {
    const known = this.addresses.get(address);
    if (known !== undefined) {
      // refresh at most once a minute: the timestamp is only for eviction
      if (at - known > 60_000) this.addresses.set(address, at);
      return;
    }
    if (this.addresses.size >= MAX_ADDRESSES) {
      let oldest: string | null = null;
      let oldestAt = Number.POSITIVE_INFINITY;
      for (const [a, t] of this.addresses) {
        if (t < oldestAt) {
          oldest = a;
          oldestAt = t;
        }
      }
      if (oldest !== null) this.addresses.delete(oldest);
    }
    this.addresses.set(address, at);
  }

  /**
   * Whether `address` is usual for this agent: seen before, or in a network
   * seen before (same IPv4 /24 or IPv6 /64), so instances that come back with a
   * new address from the same subnet (pods, DHCP) are not strangers.
   */
  knowsAddress(address: string): boolean {
    if (this.addresses.has(address)) return true;
    const net = networkOf(address);
    for (const known of this.addresses.keys()) if (networkOf(known) === net) return true;
    return false;
  }

  /** Days of history. */
  spanDays(): number {
    return (this.lastAt - this.firstAt) / 86_400_000;
  }

  /** The learned deny ratio of calls and decisions (0 with nothing learned). */
  denyRatio(): number {
    return this.decisions > 0 ? this.denials / this.decisions : 0;
  }

  /**
   * The share of learned activity at `at`'s hour, counting the hour before
   * and after (work does not start on the hour). With a week of history the
   * hour of the week is judged (weekends differ from weekdays); before that,
   * the hour of the day across all days.
   */
  hourShare(at: number): number {
    if (this.events <= 0) return 0;
    const h = hourOfWeek(at);
    let sum = 0;
    if (this.spanDays() >= 7) {
      for (const d of [-1, 0, 1]) sum += this.hours[(h + d + WEEK_HOURS) % WEEK_HOURS] as number;
    } else {
      const hourOfDay = h % 24;
      for (let day = 0; day < 7; day++) {
        for (const d of [-1, 0, 1]) {
          sum += this.hours[(day * 24 + ((hourOfDay + d + 24) % 24)) % WEEK_HOURS] as number;
        }
      }
    }
    return sum / this.events;
  }

  toData(): BaselineData {
    return {
      v: 1,
      firstAt: this.firstAt,
      lastAt: this.lastAt,
      decayedAt: this.decayedAt,
      events: this.events,
      hourOfWeek: Array.from(this.hours, (v) => Math.round(v * 1000) / 1000),
      resources: [...this.resources],
      addresses: Object.fromEntries(this.addresses),
      callPeak: this.callPeak,
      tokenPeak: this.tokenPeak,
      bytesPeak: this.bytesPeak,
      decisions: this.decisions,
      denials: this.denials,
    };
  }
}

/** Narrows stored JSON to baseline data; null when it is not (a newer format, corruption). */
export function parseBaselineData(value: unknown): BaselineData | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const nums = [
    'firstAt',
    'lastAt',
    'decayedAt',
    'events',
    'callPeak',
    'tokenPeak',
    'bytesPeak',
    'decisions',
    'denials',
  ];
  if (v.v !== 1 || nums.some((k) => typeof v[k] !== 'number')) return null;
  if (!Array.isArray(v.hourOfWeek) || v.hourOfWeek.some((x) => typeof x !== 'number')) return null;
  if (!Array.isArray(v.resources) || v.resources.some((x) => typeof x !== 'string')) return null;
  if (typeof v.addresses !== 'object' || v.addresses === null) return null;
  return value as BaselineData;
}
