/**
 * Single use of DPoP proofs at the gateway, in memory: a proof `jti` is
 * accepted once per key within its validity window. In `durable` audit mode
 * the proofs of decided calls are also claimed in the database with the call's
 * authorization record, so no node accepts them twice.
 */
export class ProofReplayCache {
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  private rotatedAt = 0;

  constructor(private readonly windowMs: number) {}

  /** True the first time `key` is seen within the window; false for a replay. */
  claim(key: string, nowMs: number): boolean {
    if (nowMs - this.rotatedAt > this.windowMs) {
      // two generations, each one window long: an entry lives between one and two windows
      this.previous = this.current;
      this.current = new Map();
      this.rotatedAt = nowMs;
    }
    if (this.current.has(key) || this.previous.has(key)) return false;
    this.current.set(key, nowMs);
    return true;
  }
}
