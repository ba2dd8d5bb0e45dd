/**
 * A sum over a sliding time window, kept in `slots` buckets of `slotMs` each:
 * O(1) per add, constant memory whatever the rate. The window ends at the
 * newest time seen; an add older than the window is ignored, an add inside it
 * lands in its own bucket (activity may arrive slightly out of order).
 */
export class SlidingCounter {
  private readonly buckets: Float64Array;
  private head = Number.NEGATIVE_INFINITY;
  private total = 0;

  constructor(
    private readonly slots: number,
    private readonly slotMs: number,
  ) {
    this.buckets = new Float64Array(slots);
  }

  /** The window's length in ms. */
  get spanMs(): number {
    return this.slots * this.slotMs;
  }

  private advance(slot: number): void {
    if (slot <= this.head) return;
    if (slot - this.head >= this.slots) {
      this.buckets.fill(0);
      this.total = 0;
    } else {
      for (let s = this.head + 1; s <= slot; s++) {
        const i = s % this.slots;
        this.total -= this.buckets[i] as number;
        this.buckets[i] = 0;
      }
    }
    this.head = slot;
  }

  /** Adds `amount` at time `at`; returns the window's sum afterwards. */
  add(at: number, amount = 1): number {
    const slot = Math.floor(at / this.slotMs);
    this.advance(slot);
    if (slot > this.head - this.slots) {
      const i = slot % this.slots;
      this.buckets[i] = (this.buckets[i] as number) + amount;
      this.total += amount;
    }
    return this.total;
  }

  /** The window's sum as of `at` (moves the window forward, never back). */
  sum(at: number): number {
    this.advance(Math.floor(at / this.slotMs));
    return this.total;
  }
}
