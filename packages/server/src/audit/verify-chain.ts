import { type ChainHead, chainHash, GENESIS_HASH } from '../storage/audit-chain.js';
import type { AuditEventRecord } from '../storage/index.js';

export type ChainProblem = 'modified' | 'missing' | 'reordered' | 'duplicated' | 'truncated' | 'rewritten';

/** A checkpoint to hold the chain to: the event at `size` must have `hash`. */
export interface CheckpointClaim {
  readonly size: number;
  readonly hash: string;
}

export interface ChainReport {
  readonly ok: boolean;
  /** Chained events checked. */
  readonly checked: number;
  /** The last sequence number seen (0 for an empty log). */
  readonly lastSeq: number;
  readonly checkpointsChecked: number;
  /**
   * Set when the log starts after a pruned (archived) prefix: the last pruned
   * sequence number, whose hash a signed checkpoint vouches for.
   */
  readonly prunedThrough?: number;
  /** The first problem found, at the lowest sequence number where the log stops being trustworthy. */
  readonly problem?: { readonly seq: number; readonly kind: ChainProblem; readonly detail: string };
}

/** The action of the event that records a retention prune (`details.through`: the last pruned seq). */
export const PRUNE_ACTION = 'audit.prune';

/**
 * Verifies a hash-chained audit log read in sequence order: every hash, every
 * link, no gap, no repeat, and every checkpoint (the event at its size exists
 * and has its hash). Events written before the chain existed (no hash) are
 * skipped. A log may start after a pruned prefix: its first event must then
 * link to the hash of a checkpoint at exactly the pruned end, and the log must
 * hold the `audit.prune` event that recorded that prune; checkpoints inside the
 * pruned prefix are left to the archive's own verification.
 *
 * Reports the first problem with its sequence number and kind: `modified` (an event's content no longer matches its hash), `missing` (a sequence number or an event's predecessor is absent), `reordered`, `duplicated`
 * (an event id appears twice), `truncated` (a checkpoint covers events that are
 * gone) or `rewritten` (the chain is consistent but differs from a checkpoint).
 */
export async function verifyChain(
  events: AsyncIterable<AuditEventRecord> | Iterable<AuditEventRecord>,
  checkpoints: readonly CheckpointClaim[] = [],
  options: {
    /**
     * An archived segment or export: it may start anywhere (its link to the
     * event before it is vouched for by the checkpoints after it), needs no
     * prune event, and checkpoints past its end are not its concern.
     */
    readonly segment?: boolean;
  } = {},
): Promise<ChainReport> {
  let prev: ChainHead | null = null;
  let checked = 0;
  let lastSeq = 0;
  let prunedThrough = 0;
  let startHash: string | null = null;
  let pruneRecorded = false;
  const seenIds = new Set<string>();
  const seenHashes = new Set<string>();
  const hashAt = new Map<number, string>();
  const wanted = new Set(checkpoints.map((c) => c.size));
  const fail = (seq: number, kind: ChainProblem, detail: string): ChainReport => ({
    ok: false,
    checked,
    lastSeq,
    checkpointsChecked: 0,
    problem: { seq, kind, detail },
  });

  const iterator = (
    Symbol.asyncIterator in events ? events[Symbol.asyncIterator]() : events[Symbol.iterator]()
  ) as AsyncIterator<AuditEventRecord> | Iterator<AuditEventRecord>;
  const rest: AsyncIterable<AuditEventRecord> = {
    [Symbol.asyncIterator]: () => ({ next: async () => iterator.next() }),
  };
  // A gap means missing events, unless they turn up later: then the log is out of order.
  const gap = async (expected: number, found: number): Promise<ChainReport> => {
    for await (const later of rest) {
      if (later.seq === expected)
        return fail(expected, 'reordered', `event ${expected} appears after ${found}`);
    }
    return fail(expected, 'missing', `events ${expected}–${found - 1} are missing`);
  };
  for await (const e of rest) {
    if (e.hash === null || e.prevHash === null) {
      if (prev !== null) return fail(e.seq, 'modified', `event ${e.seq} lost its hash`);
      lastSeq = e.seq;
      continue;
    }
    if (seenIds.has(e.id)) return fail(e.seq, 'duplicated', `event \`${e.id}\` appears again at ${e.seq}`);
    seenIds.add(e.id);
    if (prev === null) {
      // the first chained event: it links to the genesis hash or to the unchained prefix
      prev = { seq: e.seq - 1, hash: e.prevHash };
      startHash = e.prevHash;
      // a segment's own start needs no anchor: the checkpoints after it vouch for it
      const anchored =
        options.segment || checkpoints.some((c) => c.size === e.seq - 1 && c.hash === e.prevHash);
      if (lastSeq === 0 && e.seq > 1 && anchored) prunedThrough = e.seq - 1;
      else if (e.prevHash !== GENESIS_HASH && e.seq !== lastSeq + 1) return gap(lastSeq + 1, e.seq);
    }
    if (e.seq <= prev.seq) return fail(e.seq, 'reordered', `event ${e.seq} comes after ${prev.seq}`);
    if (e.seq !== prev.seq + 1) return gap(prev.seq + 1, e.seq);
    if (chainHash(e.prevHash, e.seq, e) !== e.hash) {
      return fail(e.seq, 'modified', `event ${e.seq} does not match its hash`);
    }
    if (e.prevHash !== prev.hash) {
      return seenHashes.has(e.prevHash)
        ? fail(e.seq, 'reordered', `event ${e.seq} links to an earlier event than ${prev.seq}`)
        : fail(
            prev.seq,
            'modified',
            `event ${prev.seq} was changed and re-hashed: its successor was chained to another version`,
          );
    }
    if (e.action === PRUNE_ACTION && e.details.through === prunedThrough) pruneRecorded = true;
    seenHashes.add(e.hash);
    if (wanted.has(e.seq)) hashAt.set(e.seq, e.hash);
    prev = { seq: e.seq, hash: e.hash };
    lastSeq = e.seq;
    checked++;
  }

  if (prunedThrough > 0 && !pruneRecorded && !options.segment) {
    return fail(
      1,
      'missing',
      `events 1–${prunedThrough} are gone and no \`${PRUNE_ACTION}\` event records their pruning`,
    );
  }
  let checkpointsChecked = 0;
  for (const c of [...checkpoints].sort((a, b) => a.size - b.size)) {
    // inside the pruned prefix: the archive, not this log, holds those events;
    // past a segment's end: the log (or a later archive) holds those
    if (c.size < prunedThrough || (options.segment && c.size > lastSeq)) continue;
    const hash =
      c.size === prunedThrough && prunedThrough > 0 ? (startHash ?? undefined) : hashAt.get(c.size);
    if (c.size > lastSeq) {
      return {
        ...fail(
          lastSeq + 1,
          'truncated',
          `a checkpoint covers ${c.size} events but the log ends at ${lastSeq}`,
        ),
        checkpointsChecked,
      };
    }
    if (hash !== undefined && hash !== c.hash) {
      return {
        ...fail(c.size, 'rewritten', `event ${c.size} differs from its signed checkpoint`),
        checkpointsChecked,
      };
    }
    checkpointsChecked++;
  }
  return { ok: true, checked, lastSeq, checkpointsChecked, ...(prunedThrough > 0 ? { prunedThrough } : {}) };
}
