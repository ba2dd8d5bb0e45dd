import type { ActivityEvent } from './activity-event.js';
import { Baseline } from './baseline.js';
import type { MonitorSettings } from './settings.js';
import { SlidingCounter } from './sliding-counter.js';

const MINUTE_MS = 60_000;
const RECENT = 32;

/** A use of a credential or token from one address. */
interface Use {
  at: number;
  event: ActivityEvent;
}

/**
 * One agent's live state: its learned baseline, and short sliding windows of
 * what it is doing now (calls and token requests in the last minute, denials
 * and bytes over a few minutes, which address uses which credential, its last
 * read of sensitive data, its most recent events as evidence). Only the
 * baseline is persisted; windows rebuild from the log within minutes.
 */
export class AgentState {
  readonly calls = new SlidingCounter(60, 1000);
  readonly tokens = new SlidingCounter(60, 1000);
  readonly judged: SlidingCounter;
  readonly denied: SlidingCounter;
  readonly bytes: SlidingCounter;
  /** `c:<credential>` / `t:<token id>` → address → last use. */
  readonly uses = new Map<string, Map<string, Use>>();
  lastSensitive: ActivityEvent | null = null;
  private readonly recent: (ActivityEvent | undefined)[] = new Array(RECENT);
  private recentAt = 0;
  private readonly recentDenied: (ActivityEvent | undefined)[] = new Array(RECENT);
  private recentDeniedAt = 0;
  /** The current minute, and the highest window sums seen in it (folded into the peaks when it ends). */
  private minute = -1;
  private minuteCalls = 0;
  private minuteTokens = 0;
  private minuteBytes = 0;
  /** Signal key → when it last fired (repeats inside the cooldown are suppressed). */
  readonly fired = new Map<string, number>();
  /** Window sums after the latest event. */
  callsNow = 0;
  tokensNow = 0;
  judgedNow = 0;
  deniedNow = 0;
  bytesNow = 0;

  constructor(
    readonly agentId: string,
    readonly baseline: Baseline,
    settings: MonitorSettings,
  ) {
    const deny = settings.detectors['deny-rate-spike'].windowSeconds;
    const volume = settings.detectors['data-volume-spike'].windowSeconds;
    this.judged = new SlidingCounter(30, Math.max(1, Math.round((deny * 1000) / 30)));
    this.denied = new SlidingCounter(30, Math.max(1, Math.round((deny * 1000) / 30)));
    this.bytes = new SlidingCounter(30, Math.max(1, Math.round((volume * 1000) / 30)));
  }

  static fresh(agentId: string, at: number, settings: MonitorSettings): AgentState {
    return new AgentState(agentId, new Baseline(at), settings);
  }

  /** Whether the agent is still learning at `at`. */
  learning(at: number, settings: MonitorSettings): boolean {
    return at - this.baseline.firstAt < settings.learningMs;
  }

  /** Adds an event to the windows (before detection). */
  record(e: ActivityEvent): void {
    this.recent[this.recentAt++ % RECENT] = e;
    if (e.kind === 'token') {
      this.tokensNow = this.tokens.add(e.at);
    } else {
      if (e.kind === 'call') this.callsNow = this.calls.add(e.at);
      this.judgedNow = this.judged.add(e.at);
      if (e.outcome === 'deny') {
        this.deniedNow = this.denied.add(e.at);
        this.recentDenied[this.recentDeniedAt++ % RECENT] = e;
      } else this.deniedNow = this.denied.sum(e.at);
    }
    if (e.bytes > 0) this.bytesNow = this.bytes.add(e.at, e.bytes);
  }

  /**
   * Learns the event into the baseline (after detection), and folds the
   * window peaks of a finished minute into the learned peaks. A minute whose
   * rate was past the alert limit is not learned: an attack must not teach the
   * baseline that it is normal.
   */
  learn(e: ActivityEvent, settings: MonitorSettings, learning: boolean): void {
    const b = this.baseline;
    b.decay(e.at, settings.halfLifeMs);
    const minute = Math.floor(e.at / MINUTE_MS);
    if (minute > this.minute) {
      if (this.minute >= 0) this.fold(settings, learning);
      this.minute = minute;
      this.minuteCalls = 0;
      this.minuteTokens = 0;
      this.minuteBytes = 0;
    }
    if (this.callsNow > this.minuteCalls) this.minuteCalls = this.callsNow;
    if (this.tokensNow > this.minuteTokens) this.minuteTokens = this.tokensNow;
    if (this.bytesNow > this.minuteBytes) this.minuteBytes = this.bytesNow;
    b.learn(e);
  }

  private fold(settings: MonitorSettings, learning: boolean): void {
    const b = this.baseline;
    const d = settings.detectors;
    const within = (value: number, peak: number, factor: number, floor: number) =>
      learning || value <= Math.max(floor, factor * peak);
    if (
      this.minuteCalls > b.callPeak &&
      within(this.minuteCalls, b.callPeak, d['call-rate-spike'].factor, d['call-rate-spike'].minPerMinute)
    )
      b.callPeak = this.minuteCalls;
    if (
      this.minuteTokens > b.tokenPeak &&
      within(this.minuteTokens, b.tokenPeak, d['token-rate-spike'].factor, d['token-rate-spike'].minPerMinute)
    )
      b.tokenPeak = this.minuteTokens;
    if (
      this.minuteBytes > b.bytesPeak &&
      within(this.minuteBytes, b.bytesPeak, d['data-volume-spike'].factor, d['data-volume-spike'].minBytes)
    )
      b.bytesPeak = this.minuteBytes;
  }

  /** Remembers a use of `key` from the event's address; returns the other addresses' uses still in the window. */
  use(key: string, e: ActivityEvent, windowMs: number): Use[] {
    const address = e.sourceAddress as string;
    let byAddress = this.uses.get(key);
    if (!byAddress) {
      if (this.uses.size >= 4096) this.prune(e.at, windowMs);
      byAddress = new Map();
      this.uses.set(key, byAddress);
    }
    let others: Use[] | null = null;
    for (const [a, u] of byAddress) {
      if (a === address) continue;
      if (e.at - u.at > windowMs || u.at - e.at > windowMs) {
        byAddress.delete(a);
        continue;
      }
      if (others === null) others = [];
      others.push(u);
    }
    byAddress.set(address, { at: e.at, event: e });
    return others ?? [];
  }

  /**
   * Drops uses outside the window; when that frees too little (more credentials
   * in use at once than the bound), drops the oldest-remembered ones down to
   * three quarters of it, so the next 1024 new keys cost nothing (before, a
   * full map was walked on every new key and kept full).
   */
  private prune(now: number, windowMs: number): void {
    for (const [key, byAddress] of this.uses) {
      for (const [a, u] of byAddress) if (now - u.at > windowMs) byAddress.delete(a);
      if (byAddress.size === 0) this.uses.delete(key);
    }
    if (this.uses.size < 3072) return;
    for (const key of this.uses.keys()) {
      if (this.uses.size < 3072) break;
      this.uses.delete(key);
    }
  }

  /** The most recent events (newest last), filtered; evidence for rate findings. */
  recentEvents(filter: (e: ActivityEvent) => boolean, limit = 10): ActivityEvent[] {
    return this.ring(this.recent, this.recentAt, filter, limit);
  }

  /** The most recent denied events (newest last). */
  recentDenials(limit = 10): ActivityEvent[] {
    return this.ring(this.recentDenied, this.recentDeniedAt, () => true, limit);
  }

  private ring(
    ring: readonly (ActivityEvent | undefined)[],
    next: number,
    filter: (e: ActivityEvent) => boolean,
    limit: number,
  ): ActivityEvent[] {
    const out: ActivityEvent[] = [];
    for (let i = 1; i <= RECENT && out.length < limit; i++) {
      const e = ring[(next - i + RECENT * 2) % RECENT];
      if (e && filter(e)) out.push(e);
    }
    return out.reverse();
  }
}
