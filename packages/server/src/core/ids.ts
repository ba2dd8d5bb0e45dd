import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/** Prefixes of Custos identifiers; the prefix tells a reader what an id names. */
export type IdPrefix = 'agt' | 'usr' | 'tok' | 'evt' | 'fed' | 'grt' | 'idp' | 'cns' | 'fnd' | 'dlv' | 'apr';

// ulid's default PRNG makes one CSPRNG call per character; draw from a pooled
// buffer instead (refilled from the CSPRNG every 4 KiB): same source, far fewer calls.
const pool = new Uint8Array(4096);
let poolAt = pool.length;
function pooledRandom(): number {
  if (poolAt >= pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return (pool[poolAt++] as number) / 256;
}

const nextUlid = monotonicFactory(pooledRandom);

/**
 * `bytes` bytes from the CSPRNG as base64url, drawn from the same pooled buffer
 * (one CSPRNG call per 4 KiB instead of one per identifier). For request ids
 * and token identifiers, which must be unpredictable but are not keys.
 */
export function randomToken(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const out = Buffer.from(pool.subarray(poolAt, poolAt + bytes)).toString('base64url');
  poolAt += bytes;
  return out;
}

/**
 * A new identifier `<prefix>_<ULID>`: unique, and sortable by creation time within
 * one process (monotonic ULIDs), so ids double as a stable pagination order.
 * Lowercased so ids are easy to type; ULID's alphabet has no ambiguous letters.
 */
export function newId(prefix: IdPrefix, nowMs: number): string {
  return `${prefix}_${nextUlid(nowMs).toLowerCase()}`;
}

/** True when `value` has the shape of an id with this prefix. */
export function isId(prefix: IdPrefix, value: string): boolean {
  return new RegExp(`^${prefix}_[0-9a-hjkmnp-tv-z]{26}$`).test(value);
}
