import { CustosError } from '../core/index.js';
import type { Repositories } from '../storage/index.js';

/** How many failures lock a key, within what window, and for how long. */
export interface ThrottleRule {
  readonly failures: number;
  readonly windowMs: number;
  readonly lockMs: number;
}

/**
 * Failed console sign-ins are counted per account name (whether or not the
 * account exists, so a lock-out reveals nothing) and per source address. The
 * counters live in the database, so every node sharing it enforces the same limits.
 */
export const THROTTLE: { readonly account: ThrottleRule; readonly address: ThrottleRule } = {
  account: { failures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 },
  address: { failures: 20, windowMs: 15 * 60_000, lockMs: 15 * 60_000 },
};

export const accountKey = (name: string): string => `account:${name.trim().toLowerCase()}`;
export const addressKey = (address: string): string => `address:${address}`;

/** The refusal of a locked key: 429 with the seconds to wait. */
export class SignInThrottled extends CustosError {
  constructor(readonly retryAfterSeconds: number) {
    super('rate_limited', 'too many failed sign-ins: try again later');
  }
}

/** Throws {@link SignInThrottled} when any of `keys` is locked at `now`. */
export async function assertNotThrottled(repos: Repositories, keys: readonly string[], now: number) {
  let until = 0;
  for (const key of keys) {
    const row = await repos.console.loginThrottle.get(key);
    if (row?.lockedUntil != null && row.lockedUntil > now) until = Math.max(until, row.lockedUntil);
  }
  if (until > now) throw new SignInThrottled(Math.ceil((until - now) / 1000));
}

/** Counts one failure against each key, locking those that reach their rule's limit. */
export async function countFailure(
  repos: Repositories,
  keys: readonly { key: string; rule: ThrottleRule }[],
  now: number,
): Promise<void> {
  for (const { key, rule } of keys) {
    const row = await repos.console.loginThrottle.recordFailure(key, now, now - rule.windowMs);
    if (row.failures >= rule.failures) await repos.console.loginThrottle.lock(key, now + rule.lockMs);
  }
}
