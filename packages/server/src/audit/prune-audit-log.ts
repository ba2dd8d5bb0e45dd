import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, CustosError } from '../core/index.js';
import type { AuditCheckpointRecord, AuditEventRecord, Store } from '../storage/index.js';
import { toAuditView } from './event-view.js';
import { toJsonLine } from './export-formats.js';
import { type Actor, recordAuditEvent } from './record-audit-event.js';
import { PRUNE_ACTION, verifyChain } from './verify-chain.js';

export interface PruneResult {
  /** The first and last sequence numbers archived and deleted. */
  readonly from: number;
  readonly through: number;
  readonly events: number;
  /** The JSON-lines archive of the pruned events (API view, one per line). */
  readonly archive: string;
  /** The signed checkpoints that let the archive be verified on its own (its end, and its start's anchor). */
  readonly checkpoints: string;
  /** The signed checkpoint at `through`, which the remaining log now starts from. */
  readonly checkpoint: AuditCheckpointRecord;
}

/** Writes `text` to `path` durably: a temporary file, fsync, then rename. */
async function writeDurably(path: string, chunks: Iterable<string>): Promise<void> {
  const temporary = `${path}.partial`;
  const file = await open(temporary, 'w', 0o600);
  try {
    for (const chunk of chunks) await file.write(chunk);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
}

async function eventsBetween(store: Store, from: number, through: number): Promise<AuditEventRecord[]> {
  const out: AuditEventRecord[] = [];
  let after = from - 1;
  while (after < through) {
    const page = await store.audit.list({ limit: 500, afterSeq: after });
    const items = page.items.filter((e) => e.seq <= through);
    if (items.length === 0) break;
    out.push(...items);
    after = (items[items.length - 1] as AuditEventRecord).seq;
  }
  return out;
}

/**
 * Retention: removes the oldest events recorded before `before`, in whole
 * segments that end exactly at a signed checkpoint already copied outside the
 * database, and never past an event a live sink has not yet forwarded. The
 * segment is first verified (a tampered log is never pruned), then archived
 * (JSON lines + the checkpoints covering it, written durably to `archiveDir`),
 * then deleted in one transaction that also records an `audit.prune` event.
 * The remaining log still verifies: its first event links to the checkpoint's
 * hash (see `verifyChain`).
 */
export async function pruneAuditLog(
  deps: { store: Store; clock: Clock; archiveDir: string },
  actor: Actor,
  input: { before: number; reason?: string | undefined },
): Promise<PruneResult> {
  const { store } = deps;
  const first = await store.auditLog.firstSeq();
  if (first === null) throw new CustosError('conflict', 'the audit log is empty: nothing to prune');
  const lastBefore = (await store.audit.list({ limit: 1, to: input.before, order: 'desc' })).items[0];
  const sinks = await store.auditLog.listSinks();
  const limit = Math.min(lastBefore?.seq ?? 0, ...sinks.map((s) => s.cursor));
  const checkpoints = await store.auditLog.listCheckpoints(Math.max(0, first - 2));
  const end = checkpoints.filter((c) => c.size >= first && c.size <= limit && c.sunkAt !== null).pop();
  if (!end) {
    const held = sinks.find((s) => s.cursor < (lastBefore?.seq ?? 0));
    throw new CustosError(
      'conflict',
      held
        ? `nothing to prune: audit sink \`${held.name}\` has forwarded events only up to ${held.cursor}`
        : `nothing to prune: no signed checkpoint copied outside the database ends before \`${new Date(input.before).toISOString()}\``,
    );
  }
  const events = await eventsBetween(store, first, end.size);
  const anchors = checkpoints.filter((c) => c.size === first - 1 || c.size === end.size);
  const report = await verifyChain(events, anchors, { segment: true });
  if (!report.ok || report.lastSeq !== end.size) {
    throw new CustosError(
      'conflict',
      `refusing to prune events ${first}–${end.size}: they do not verify (${report.problem?.kind ?? 'incomplete'} at ${report.problem?.seq ?? report.lastSeq + 1}); run \`custos audit verify\``,
    );
  }

  await mkdir(deps.archiveDir, { recursive: true, mode: 0o700 });
  const base = join(
    deps.archiveDir,
    `audit-${String(first).padStart(12, '0')}-${String(end.size).padStart(12, '0')}`,
  );
  const archive = `${base}.jsonl`;
  const notes = `${base}.checkpoints`;
  await writeDurably(
    archive,
    events.map((e) => `${toJsonLine(toAuditView(e))}\n`),
  );
  await writeDurably(
    notes,
    anchors.map((c) => `${c.note}\n`),
  );

  await store.transaction(async (tx) => {
    // Appending first takes the chain head's lock, which serialises concurrent prunes.
    await recordAuditEvent(tx, deps.clock, actor, {
      action: PRUNE_ACTION,
      target: { type: 'audit_log', id: 'audit' },
      reason: input.reason ?? null,
      details: {
        from: first,
        through: end.size,
        hash: end.hash,
        events: events.length,
        before: new Date(input.before).toISOString(),
        archive,
      },
    });
    // another node pruned meanwhile: its archive is the one that counts
    if (
      (await tx.auditLog.firstSeq()) !== first ||
      (await tx.auditLog.deleteThrough(end.size)) !== events.length
    )
      throw new CustosError('conflict', 'the audit log was pruned concurrently; try again');
  });
  return {
    from: first,
    through: end.size,
    events: events.length,
    archive,
    checkpoints: notes,
    checkpoint: end,
  };
}
