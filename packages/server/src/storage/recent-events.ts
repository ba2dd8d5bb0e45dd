import type { BatchUnit, UnitOutcome } from './batch.js';
import type { AuditEventRecord } from './records.js';

/**
 * The audit events this process committed through its group committer, by
 * sequence number, kept for a little while so that the monitor can take them
 * from memory instead of reading back and parsing each row it just wrote (a
 * tenth of the event loop's time per token grant). The log stays the only
 * source: an answer is given only for a range this process holds in full,
 * every sequence number in it included; any gap (an event another node or
 * another code path wrote, a batch whose answer has not arrived yet, an event
 * pushed out by newer ones) answers null, and the caller reads the store.
 *
 * An event is held as it was submitted, its details the same JSON data the
 * row was written from (`auditStatement` builds details of JSON values only);
 * the chain's hashes, computed by the writer, are not known here (null).
 *
 * Events are noted only while something takes them: a node whose monitor
 * stands by (another node holds the lease) or has stopped keeps nothing.
 */
export class RecentEvents {
  private readonly events = new Map<number, AuditEventRecord>();
  /** When `take` was last called (ms, monotonic); events are noted only within `idleMs` of it. */
  private lastTake = Number.NEGATIVE_INFINITY;

  /** At most `capacity` events, the oldest going first; none noted once `take` is idle for `idleMs`. */
  constructor(
    private readonly capacity = 4096,
    private readonly idleMs = 10_000,
  ) {}

  /** Takes note of the audit events of the units that committed (`outcomes` in the order of `units`). */
  add(units: readonly BatchUnit[], outcomes: readonly UnitOutcome[]): void {
    if (performance.now() - this.lastTake > this.idleMs) {
      if (this.events.size > 0) this.events.clear();
      return;
    }
    for (const [u, unit] of units.entries()) {
      const outcome = outcomes[u];
      if (!outcome?.ok) continue; // undone: its events were never stored, their numbers go to others
      for (const [i, statement] of unit.statements.entries()) {
        if (!('audit' in statement)) continue;
        const seq = Number(outcome.rows[i]?.[0]?.seq);
        if (!Number.isSafeInteger(seq) || seq <= 0) continue;
        this.events.set(seq, { ...statement.audit, seq, prevHash: null, hash: null });
      }
    }
    while (this.events.size > this.capacity) {
      const oldest = this.events.keys().next().value as number;
      this.events.delete(oldest);
    }
  }

  /**
   * The events with a sequence number in (`after`, `through`] whose action is
   * in `actions`, in order, at most `limit`: what the store's
   * `monitor.events(after, through, actions, [], limit)` answers, or null when
   * this process does not hold every event up to the last one it would return.
   * What it passes over is forgotten (the caller moves past it).
   */
  take(
    after: number,
    through: number,
    actions: ReadonlySet<string>,
    limit: number,
  ): AuditEventRecord[] | null {
    this.lastTake = performance.now();
    // what lies at or before `after` was read from the store meanwhile (the oldest come first)
    for (const old of this.events.keys()) {
      if (old > after) break;
      this.events.delete(old);
    }
    const out: AuditEventRecord[] = [];
    let seq = after + 1;
    for (; seq <= through && out.length < limit; seq++) {
      const event = this.events.get(seq);
      if (!event) return null;
      if (actions.has(event.action)) out.push(event);
    }
    for (let passed = after + 1; passed < seq; passed++) this.events.delete(passed);
    return out;
  }

  get size(): number {
    return this.events.size;
  }
}
