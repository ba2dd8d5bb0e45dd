import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { chainHash, GENESIS_HASH, link } from '../storage/audit-chain.js';
import type { AuditEventInput, AuditEventRecord } from '../storage/index.js';
import { verifyChain } from './verify-chain.js';

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
});
