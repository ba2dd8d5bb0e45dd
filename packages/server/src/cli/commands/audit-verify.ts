import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import type { AuditEventView, ChainReport, CheckpointClaim } from '../../audit/index.js';
import type { AuditEventRecord } from '../../storage/index.js';
import { CliError } from '../api-client.js';
import { contextOf } from '../context.js';
import { queryString } from '../parse.js';

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
    const pruned = result.prunedThrough ? ` (events 1–${result.prunedThrough} pruned and archived)` : '';
    process.stdout.write(
      `audit log verifies: ${result.checked} chained events up to #${result.lastSeq}, ${result.checkpointsChecked} signed checkpoints${pruned}\n`,
    );
  } else if (result.problem) {
    process.stdout.write(
      `audit log does NOT verify: ${result.problem.kind} at #${result.problem.seq}: ${result.problem.detail}\n`,
    );
  }
  if (ok && result.checkpointsChecked === 0 && !json)
    process.stdout.write(
      'note: no signed checkpoint covers these events: only their internal consistency was checked\n',
    );
  if (badNotes > 0 && !json)
    process.stdout.write(`${badNotes} checkpoint note(s) do not carry a valid signature by the audit key\n`);
  if (!ok) process.exitCode = 1;
}

/** Events from a JSON-lines export or retention archive, in file order; a bad line stops with its number. */
async function* eventsFromFile(path: string): AsyncGenerator<AuditEventRecord> {
  const { fromAuditView, parseAuditView } = await import('../../audit/index.js');
  const lines = createInterface({
    input: createReadStream(path, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new CliError(`\`${path}\` line ${n} is not JSON`);
    }
    const view = parseAuditView(parsed);
    if (!view) throw new CliError(`\`${path}\` line ${n} is not an audit event`);
    yield fromAuditView(view);
  }
}

export function auditVerifyCommand(): Command {
  return new Command('verify')
    .description('verify every hash, link and signed checkpoint; exit 0 only when all verify')
    .option('--database-url <url>', 'verify a database directly (offline): sqlite:<file> or postgres://…')
    .option('--events <file>', 'verify a JSON-lines export or retention archive (offline; needs --key)')
    .option('--checkpoints <file>', 'signed checkpoint notes kept outside the database')
    .option(
      '--key <vkey>',
      'the audit verifier key (default: as published by the server / stored in the database)',
    )
    .action(
      async (
        o: { databaseUrl?: string; events?: string; checkpoints?: string; key?: string },
        cmd: Command,
      ) => {
        const { api, out } = contextOf(cmd);
        const { fromAuditView, splitNotes, verifyChain, readAllEvents } = await import(
          '../../audit/index.js'
        );
        const notes = o.checkpoints ? splitNotes(await readFile(o.checkpoints, 'utf8')) : [];
        if (o.events) {
          if (!o.key)
            throw new CliError('--events needs --key: the audit verifier key to check checkpoints with');
          const { claims, bad } = await claimsFrom(notes, o.key);
          report(await verifyChain(eventsFromFile(o.events), claims, { segment: true }), bad, out.json);
          return;
        }
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
            const page: { items: AuditEventView[]; nextCursor: string | null } = await api.call(
              'GET',
              `/api/v1/audit/events${queryString({ limit: 500, cursor: cursor ?? undefined })}`,
            );
            for (const v of page.items) yield fromAuditView(v);
            cursor = page.nextCursor;
          } while (cursor);
        }
        report(await verifyChain(events(), claims), bad, out.json);
      },
    );
}
