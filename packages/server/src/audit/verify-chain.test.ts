import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { chainHash, GENESIS_HASH, link } from '../storage/audit-chain.js';
import type { AuditEventInput, AuditEventRecord } from '../storage/index.js';
import { PRUNE_ACTION, verifyChain } from './verify-chain.js';

function event(i: number, note: string): AuditEventInput {
  return {
    id: `evt_${String(i).padStart(26, '0')}`,
    at: 1_700_000_000_000 + i,
    requestId: `req_${i}`,
    actorType: 'admin_token',
    actorId: 'tok_x',
    action: i % 3 === 0 ? 'agent.suspend' : 'agent.update',
    targetType: 'agent',
    targetId: `agt_${i % 4}`,
    outcome: 'success',
    reason: null,
    details: { note, n: i, nested: { list: [i, note] } },
  };
}

/** A well-formed chain of `notes.length` events from the genesis hash. */
function chain(notes: readonly string[]): AuditEventRecord[] {
  let head = { seq: 0, hash: GENESIS_HASH };
  return notes.map((note, i) => {
    const e = event(i + 1, note);
    const linked = link(head, e);
    head = { seq: linked.seq, hash: linked.hash };
    return { ...e, seq: linked.seq, prevHash: linked.prevHash, hash: linked.hash };
  });
}

const notes = fc.array(fc.string({ maxLength: 12 }), { minLength: 3, maxLength: 25 });

describe('verifyChain (property tests)', () => {
  it('verifies any untouched log, with a checkpoint at its end', async () => {
    await fc.assert(
      fc.asyncProperty(notes, async (n) => {
        const log = chain(n);
        const last = log[log.length - 1] as AuditEventRecord;
        const report = await verifyChain(log, [{ size: last.seq, hash: last.hash as string }]);
        assert.deepEqual(report, { ok: true, checked: n.length, lastSeq: n.length, checkpointsChecked: 1 });
      }),
    );
  });

  it('detects and locates a modified event (content changed, hash kept)', async () => {
    await fc.assert(
      fc.asyncProperty(notes, fc.nat(), fc.string({ minLength: 1, maxLength: 5 }), async (n, k, extra) => {
        const log = chain(n);
        const i = k % log.length;
        const victim = log[i] as AuditEventRecord;
        log[i] = {
          ...victim,
          details: { ...victim.details, note: `${String(victim.details.note)}${extra}` },
        };
        const report = await verifyChain(log);
        assert.deepEqual(report.problem && [report.problem.kind, report.problem.seq], ['modified', i + 1]);
      }),
    );
  });

  it('detects and locates an event changed and re-hashed', async () => {
    await fc.assert(
      fc.asyncProperty(notes, fc.nat(), async (n, k) => {
        const log = chain(n);
        const i = k % log.length;
        const victim = log[i] as AuditEventRecord;
        const changed = { ...victim, outcome: 'failure' as const };
        log[i] = { ...changed, hash: chainHash(victim.prevHash as string, victim.seq, changed) };
        const last = chain(n)[n.length - 1] as AuditEventRecord; // the checkpoint was signed before tampering
        const report = await verifyChain(log, [{ size: last.seq, hash: last.hash as string }]);
        const expected = i === log.length - 1 ? ['rewritten', i + 1] : ['modified', i + 1];
        assert.deepEqual(report.problem && [report.problem.kind, report.problem.seq], expected);
      }),
    );
  });

  it('detects and locates a deleted event, and a truncated tail', async () => {
    await fc.assert(
      fc.asyncProperty(notes, fc.nat(), fc.boolean(), async (n, k, tail) => {
        const log = chain(n);
        const i = k % log.length;
        const last = log[log.length - 1] as AuditEventRecord;
        const tampered = tail ? log.slice(0, i) : [...log.slice(0, i), ...log.slice(i + 1)];
        const report = await verifyChain(tampered, [{ size: last.seq, hash: last.hash as string }]);
        const kind = tail || i === log.length - 1 ? 'truncated' : 'missing';
        assert.deepEqual(report.problem && [report.problem.kind, report.problem.seq], [kind, i + 1]);
      }),
    );
  });

  it('detects and locates a duplicated and a reordered event', async () => {
    await fc.assert(
      fc.asyncProperty(notes, fc.nat(), fc.nat(), async (n, a, b) => {
        const log = chain(n);
        const i = a % log.length;
        const duplicated = [...log.slice(0, i + 1), log[i] as AuditEventRecord, ...log.slice(i + 1)];
        const dup = await verifyChain(duplicated);
        assert.equal(dup.problem?.kind, 'duplicated');
        assert.equal(dup.problem?.seq, i + 1);

        const j = b % log.length;
        if (i === j) return;
        const [lo, hi] = i < j ? [i, j] : [j, i];
        const swapped = [...log];
        swapped[lo] = log[hi] as AuditEventRecord;
        swapped[hi] = log[lo] as AuditEventRecord;
        const re = await verifyChain(swapped);
        assert.deepEqual(re.problem && [re.problem.kind, re.problem.seq], ['reordered', lo + 1]);
      }),
    );
  });

  it('detects a consistently rewritten chain through its checkpoint', async () => {
    await fc.assert(
      fc.asyncProperty(notes, fc.nat(), async (n, k) => {
        const original = chain(n);
        const last = original[original.length - 1] as AuditEventRecord;
        const rewrittenNotes = [...n];
        const i = k % n.length;
        rewrittenNotes[i] = `${n[i]}!`;
        const report = await verifyChain(chain(rewrittenNotes), [
          { size: last.seq, hash: last.hash as string },
        ]);
        assert.deepEqual(report.problem && [report.problem.kind, report.problem.seq], [
          'rewritten',
          last.seq,
        ]);
      }),
    );
  });

  describe('after retention pruned a prefix', () => {
    /** A log of `n` events whose event `pruneAt` records pruning through `through`. */
    function prunedLog(notes: readonly string[], through: number, pruneAt: number) {
      let head = { seq: 0, hash: GENESIS_HASH };
      const log = notes.map((note, i): AuditEventRecord => {
        const base = event(i + 1, note);
        const e =
          i + 1 === pruneAt ? { ...base, action: PRUNE_ACTION, details: { ...base.details, through } } : base;
        const linked = link(head, e);
        head = { seq: linked.seq, hash: linked.hash };
        return { ...e, seq: linked.seq, prevHash: linked.prevHash, hash: linked.hash };
      });
      const anchor = log[through - 1] as AuditEventRecord;
      const last = log[log.length - 1] as AuditEventRecord;
      return {
        kept: log.slice(through),
        archived: log.slice(0, through),
        checkpoints: [
          { size: anchor.seq, hash: anchor.hash as string },
          { size: last.seq, hash: last.hash as string },
        ],
      };
    }
    const shape = fc
      .tuple(notes, fc.nat(), fc.nat())
      .filter(([n]) => n.length >= 4)
      .map(([n, a, b]) => {
        const through = 1 + (a % (n.length - 2)); // 1..len-2: something is kept after it
        const pruneAt = through + 1 + (b % (n.length - through)); // the prune event comes after
        return { n, through, pruneAt };
      });

    it('verifies the rest when it links to a checkpoint at the pruned end and records the prune', async () => {
      await fc.assert(
        fc.asyncProperty(shape, async ({ n, through, pruneAt }) => {
          const { kept, checkpoints } = prunedLog(n, through, pruneAt);
          const report = await verifyChain(kept, checkpoints);
          assert.deepEqual(report, {
            ok: true,
            checked: n.length - through,
            lastSeq: n.length,
            checkpointsChecked: 2,
            prunedThrough: through,
          });
        }),
      );
    });

    it('verifies the archived segment on its own, and detects a change inside it', async () => {
      await fc.assert(
        fc.asyncProperty(shape, fc.nat(), async ({ n, through, pruneAt }, k) => {
          const { archived, checkpoints } = prunedLog(n, through, pruneAt);
          assert.equal((await verifyChain(archived, checkpoints, { segment: true })).ok, true);
          const i = k % archived.length;
          const victim = archived[i] as AuditEventRecord;
          const changed: AuditEventRecord[] = [...archived];
          changed[i] = { ...victim, reason: 'edited' };
          const report = await verifyChain(changed, checkpoints, { segment: true });
          assert.deepEqual(report.problem && [report.problem.kind, report.problem.seq], ['modified', i + 1]);
        }),
      );
    });

    it('reports a deleted prefix as missing without an anchoring checkpoint or a recorded prune', async () => {
      await fc.assert(
        fc.asyncProperty(shape, async ({ n, through, pruneAt }) => {
          const { kept, checkpoints } = prunedLog(n, through, pruneAt);
          const unanchored = await verifyChain(kept, checkpoints.slice(1));
          assert.deepEqual(unanchored.problem && [unanchored.problem.kind, unanchored.problem.seq], [
            'missing',
            1,
          ]);
          const unrecorded = kept.map((e) =>
            e.action === PRUNE_ACTION ? { ...e, action: 'agent.update' } : e,
          );
          const rehashed = chainFrom(unrecorded);
          const last = rehashed[rehashed.length - 1] as AuditEventRecord;
          const report = await verifyChain(rehashed, [
            checkpoints[0] as { size: number; hash: string },
            { size: last.seq, hash: last.hash as string },
          ]);
          assert.deepEqual(report.problem && [report.problem.kind, report.problem.seq], ['missing', 1]);
        }),
      );
    });

    it('reports an event removed right after the pruned end as missing', async () => {
      await fc.assert(
        fc.asyncProperty(shape, async ({ n, through, pruneAt }) => {
          const { kept, checkpoints } = prunedLog(n, through, pruneAt);
          const report = await verifyChain(kept.slice(1), checkpoints);
          assert.equal(report.ok, false);
          assert.equal(report.problem?.kind, 'missing');
        }),
      );
    });
  });
});

/** Re-links events (keeping their first prevHash and seq) as an attacker with database access could. */
function chainFrom(events: readonly AuditEventRecord[]): AuditEventRecord[] {
  const first = events[0] as AuditEventRecord;
  let head = { seq: first.seq - 1, hash: first.prevHash as string };
  return events.map((e) => {
    const linked = link(head, e);
    head = { seq: linked.seq, hash: linked.hash };
    return { ...e, seq: linked.seq, prevHash: linked.prevHash, hash: linked.hash };
  });
}
