import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import type { ChainReport, CheckpointClaim } from '../../audit/index.js';
import type { AuditEventRecord } from '../../storage/index.js';
import { CliError } from '../api-client.js';
import { contextOf } from '../context.js';
import { printPage } from '../output.js';
import { positiveInt, queryString } from '../parse.js';

type EventView = {
  seq: number;
  id: string;
  at: string;
  requestId: string | null;
  actor: { type: string; id: string };
  action: string;
  target: { type: string; id: string } | null;
  outcome: AuditEventRecord['outcome'];
  reason: string | null;
  details: Record<string, unknown>;
  prevHash: string | null;
  hash: string | null;
};

/** The stored form of an event from its API view (the hash covers the stored form). */
function fromView(v: EventView): AuditEventRecord {
  return {
    seq: v.seq,
    id: v.id,
    at: Date.parse(v.at),
    requestId: v.requestId,
    actorType: v.actor.type,
    actorId: v.actor.id,
    action: v.action,
    targetType: v.target?.type ?? null,
    targetId: v.target?.id ?? null,
    outcome: v.outcome,
    reason: v.reason,
    details: v.details,
    prevHash: v.prevHash,
    hash: v.hash,
  };
}

/** Opens signed notes with the verifier key; a note that does not verify is itself a finding. */
async function claimsFrom(
  notes: readonly string[],
  vkey: string,
): Promise<{ claims: CheckpointClaim[]; bad: number }> {
  const { openCheckpoint, parseVerifierKey } = await import('../../audit/index.js');
  const key = parseVerifierKey(vkey);
  if (!key) throw new CliError(`invalid audit verifier key \`${vkey}\``);
  const claims: CheckpointClaim[] = [];
  let bad = 0;
  for (const note of notes) {
    const opened = openCheckpoint(note, key);
    if (opened) claims.push({ size: opened.size, hash: opened.hash });
    else bad++;
  }
  return { claims, bad };
}

function report(result: ChainReport, badNotes: number, json: boolean | undefined): void {
  const ok = result.ok && badNotes === 0;
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ ...result, ok, badCheckpointSignatures: badNotes }, null, 2)}\n`,
    );
  } else if (ok) {
    process.stdout.write(
      `audit log verifies: ${result.checked} chained events up to #${result.lastSeq}, ${result.checkpointsChecked} signed checkpoints\n`,
    );
  } else if (result.problem) {
    process.stdout.write(
      `audit log does NOT verify: ${result.problem.kind} at #${result.problem.seq}: ${result.problem.detail}\n`,
    );
  }
  if (badNotes > 0 && !json)
    process.stdout.write(`${badNotes} checkpoint note(s) do not carry a valid signature by the audit key\n`);
  if (!ok) process.exitCode = 1;
}

export function auditCommand(): Command {
  const audit = new Command('audit').description('the tamper-evident audit log');
  audit
    .command('list')
    .description('list audit events, oldest first')
    .option('--target <id>', 'events about this agent, user, token…')
    .option('--action <action>', 'e.g. agent.suspend, token.issue')
    .option('--limit <n>', 'page size', positiveInt)
    .option('--cursor <cursor>')
    .action(
      async (o: { target?: string; action?: string; limit?: number; cursor?: string }, cmd: Command) => {
        const { api, out } = contextOf(cmd);
        const qs = queryString({ target: o.target, action: o.action, limit: o.limit, cursor: o.cursor });
        const page = await api.call<{ items: EventView[]; nextCursor: string | null }>(
          'GET',
          `/api/v1/audit/events${qs}`,
        );
        printPage(out, page, ['seq', 'at', 'actor', 'action', 'target', 'outcome', 'reason'], (e) => ({
          seq: e.seq,
          at: e.at,
          actor: `${e.actor.type}:${e.actor.id}`,
          action: e.action,
          target: e.target ? `${e.target.type}:${e.target.id}` : null,
          outcome: e.outcome,
          reason: e.reason,
        }));
      },
    );
  audit
    .command('checkpoint')
    .description('sign a checkpoint now over everything appended so far')
    .action(async (_o: unknown, cmd: Command) => {
      const { api } = contextOf(cmd);
      const c = await api.call<{ size: number; note: string }>('POST', '/api/v1/audit/checkpoints', {});
      process.stdout.write(c.note);
    });
  audit
    .command('verify')
    .description('verify every hash, link and signed checkpoint; exit 0 only when all verify')
    .option('--database-url <url>', 'verify a database directly (offline): sqlite:<file> or postgres://…')
    .option('--checkpoints <file>', 'signed checkpoint notes kept outside the database')
    .option(
      '--key <vkey>',
      'the audit verifier key (default: as published by the server / stored in the database)',
    )
    .action(async (o: { databaseUrl?: string; checkpoints?: string; key?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const { splitNotes, verifyChain, readAllEvents } = await import('../../audit/index.js');
      const notes = o.checkpoints ? splitNotes(await readFile(o.checkpoints, 'utf8')) : [];
      if (o.databaseUrl) {
        const { openStore } = await import('../../storage/index.js');
        const store = await openStore(o.databaseUrl);
        try {
          let vkey = o.key;
          if (!vkey) {
            const { verifierKey } = await import('../../audit/index.js');
            const head = await store.auditLog.latestCheckpoint();
            const name = head?.note.split('\n')[0];
            const stored = name ? await store.auditLog.getKey(name) : null;
            if (!stored) throw new CliError('no audit key in the database: pass --key');
            vkey = verifierKey(stored.name, Buffer.from(stored.publicKey, 'base64'));
            process.stderr.write(
              'custos: note: trusting the audit key stored in the database; pass --key for an independent check\n',
            );
          }
          const stored = (await store.auditLog.listCheckpoints()).map((c) => c.note);
          const { claims, bad } = await claimsFrom([...stored, ...notes], vkey);
          report(await verifyChain(readAllEvents(store), claims), bad, out.json);
        } finally {
          await store.close();
        }
        return;
      }
      const vkey = o.key ?? (await api.call<{ vkey: string }>('GET', '/api/v1/audit/key')).vkey;
      const served = await api.call<{ items: { note: string }[] }>('GET', '/api/v1/audit/checkpoints');
      const { claims, bad } = await claimsFrom([...served.items.map((c) => c.note), ...notes], vkey);
      async function* events(): AsyncGenerator<AuditEventRecord> {
        let cursor: string | null = null;
        do {
          const page: { items: EventView[]; nextCursor: string | null } = await api.call(
            'GET',
            `/api/v1/audit/events${queryString({ limit: 500, cursor: cursor ?? undefined })}`,
          );
          for (const v of page.items) yield fromView(v);
          cursor = page.nextCursor;
        } while (cursor);
      }
      report(await verifyChain(events(), claims), bad, out.json);
    });
  return audit;
}
