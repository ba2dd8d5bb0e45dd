import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { AuditEventView, ExportFormat } from '../../audit/index.js';
import type { ApiClient } from '../api-client.js';
import { contextOf } from '../context.js';
import { type Cell, formatTable, printPage, printRecord } from '../output.js';
import { positiveInt, queryString } from '../parse.js';
import { auditVerifyCommand } from './audit-verify.js';

type Page = { items: (AuditEventView & Record<string, unknown>)[]; nextCursor: string | null };

const UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `--from`, `--to`, `--before`: an RFC 3339 time, or a duration ago such as `24h`, `7d`, `30m`, `2w`. */
export function parsePastTime(value: string, nowMs = Date.now()): string {
  const duration = /^(\d{1,6})([mhdw])$/.exec(value);
  if (duration)
    return new Date(nowMs - Number(duration[1]) * (UNITS[duration[2] as string] ?? 0)).toISOString();
  if (!Number.isNaN(Date.parse(value)) && /^\d{4}-\d{2}-\d{2}/.test(value))
    return new Date(value).toISOString();
  throw new InvalidArgumentError('expected an RFC 3339 time or a duration ago like 24h, 7d, 30m');
}

function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a non-negative integer');
  return Number(value);
}

interface FilterOptions {
  from?: string;
  to?: string;
  agent?: string;
  user?: string;
  actor?: string;
  actorType?: string;
  action?: string;
  outcome?: string;
  target?: string;
  search?: string;
}

/** The query filters every listing command shares. */
function withFilters(command: Command): Command {
  return command
    .option('--from <time>', 'events at or after this time (RFC 3339, or a duration ago: 24h, 7d)', (v) =>
      parsePastTime(v),
    )
    .option('--to <time>', 'events before this time', (v) => parsePastTime(v))
    .option('--agent <agt_…>', 'events an agent did or that were done to it')
    .option(
      '--user <usr_…|email>',
      "events by a user's token, by an agent acting for the user, or done to the user",
    )
    .option('--actor <id>', 'events by this actor (`tok_…`, `agt_…`, `custos`)')
    .addOption(
      new Option('--actor-type <type>', 'events by this kind of actor').choices([
        'admin_token',
        'agent',
        'anonymous',
        'system',
      ]),
    )
    .option('--action <action>', 'event type: exact (agent.suspend) or a prefix ending in * (agent.*)')
    .addOption(new Option('--outcome <outcome>').choices(['success', 'failure', 'denied']))
    .option('--target <id>', 'events about this agent, user, token…')
    .option('-q, --search <text>', 'text anywhere in the event (case-insensitive)');
}

const filterQuery = (o: FilterOptions) => ({
  from: o.from,
  to: o.to,
  agent: o.agent,
  user: o.user,
  actor: o.actor,
  actorType: o.actorType,
  action: o.action,
  outcome: o.outcome,
  target: o.target,
  q: o.search,
});

const COLUMNS = ['seq', 'at', 'actor', 'action', 'target', 'outcome', 'reason'];
const row = (e: AuditEventView): Record<string, Cell> => ({
  seq: e.seq,
  at: e.at,
  actor: `${e.actor.type}:${e.actor.id}`,
  action: e.action,
  target: e.target ? `${e.target.type}:${e.target.id}` : null,
  outcome: e.outcome,
  reason: e.reason,
});

/** Every event matching `query`, page by page. */
async function* allEvents(api: ApiClient, query: Record<string, string | number | undefined>) {
  let cursor: string | null = null;
  do {
    const page: Page = await api.call(
      'GET',
      `/api/v1/audit/events${queryString({ ...query, limit: 500, cursor: cursor ?? undefined })}`,
    );
    yield* page.items;
    cursor = page.nextCursor;
  } while (cursor);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export function auditCommand(): Command {
  const audit = new Command('audit').description('the tamper-evident audit log');
  withFilters(audit.command('list').description('list audit events, oldest first'))
    .option('--limit <n>', 'page size', positiveInt)
    .option('--cursor <cursor>')
    .addOption(new Option('--order <order>', 'asc (oldest first) or desc').choices(['asc', 'desc']))
    .action(async (o: FilterOptions & { limit?: number; cursor?: string; order?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const qs = queryString({ ...filterQuery(o), limit: o.limit, cursor: o.cursor, order: o.order });
      const page = await api.call<Page>('GET', `/api/v1/audit/events${qs}`);
      printPage(out, page, COLUMNS, row);
    });

  withFilters(audit.command('tail').description('print the latest events; with -f, keep printing new ones'))
    .option('-n, --lines <n>', 'how many of the latest events to print first (default 10)', nonNegativeInt)
    .option('-f, --follow', 'keep polling for new events until interrupted')
    .option('--interval <ms>', 'polling interval with -f (default 1000)', positiveInt)
    .action(
      async (o: FilterOptions & { lines?: number; follow?: boolean; interval?: number }, cmd: Command) => {
        const { api, out } = contextOf(cmd);
        const filters = filterQuery(o);
        const print = (e: AuditEventView) => {
          const line = out.json ? JSON.stringify(e) : formatTable([row(e)], COLUMNS).split('\n')[1];
          process.stdout.write(`${line}\n`);
        };
        const head = await api.call<{ seq: number }>('GET', '/api/v1/audit/head');
        let last = head.seq;
        const lines = o.lines ?? 10;
        if (lines > 0) {
          const latest = await api.call<Page>(
            'GET',
            `/api/v1/audit/events${queryString({ ...filters, order: 'desc', limit: Math.min(lines, 500) })}`,
          );
          for (const e of [...latest.items].reverse()) print(e);
        }
        while (o.follow) {
          await sleep(o.interval ?? 1000);
          for await (const e of allEvents(api, { ...filters, after: last })) {
            print(e);
            last = e.seq;
          }
        }
      },
    );

  withFilters(audit.command('export').description('export events for a SIEM or an archive (all pages)'))
    .addOption(
      new Option(
        '--format <format>',
        'jsonl (verifiable with `audit verify --events`), csv, or ocsf (JSON lines)',
      )
        .choices(['jsonl', 'csv', 'ocsf'])
        .default('jsonl'),
    )
    .option('--out <file>', 'write to this file (created with mode 0600) instead of stdout')
    .action(async (o: FilterOptions & { format: ExportFormat; out?: string }, cmd: Command) => {
      const { api } = contextOf(cmd);
      const { csvHeader, toCsvRow, toJsonLine, toOcsf } = await import('../../audit/index.js');
      const file = o.out ? await open(o.out, 'w', 0o600) : null;
      await file?.chmod(0o600); // also when it existed before
      const write = async (text: string) => {
        if (file) await file.write(text);
        else if (!process.stdout.write(text))
          await new Promise((resolve) => process.stdout.once('drain', resolve));
      };
      let count = 0;
      try {
        if (o.format === 'csv') await write(`${csvHeader()}\r\n`);
        for await (const e of allEvents(api, filterQuery(o))) {
          if (o.format === 'csv') await write(`${toCsvRow(e)}\r\n`);
          else if (o.format === 'ocsf') await write(`${JSON.stringify(toOcsf(e, VERSION))}\n`);
          else await write(`${toJsonLine(e)}\n`);
          count++;
        }
        await file?.sync();
      } finally {
        await file?.close();
      }
      if (o.out) process.stderr.write(`exported ${count} events to ${o.out}\n`);
    });

  audit
    .command('head')
    .description('the chain head: last sequence number and hash, and the oldest event kept')
    .action(async (_o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(out, await api.call<Record<string, unknown>>('GET', '/api/v1/audit/head'));
    });

  audit
    .command('checkpoint')
    .description('sign a checkpoint now over everything appended so far')
    .action(async (_o: unknown, cmd: Command) => {
      const { api } = contextOf(cmd);
      const c = await api.call<{ size: number; note: string }>('POST', '/api/v1/audit/checkpoints', {});
      process.stdout.write(c.note);
    });

  audit
    .command('prune')
    .description('retention: archive and delete events before a time, in whole signed segments')
    .requiredOption('--before <time>', 'RFC 3339 time, or a duration ago (90d)', (v) => parsePastTime(v))
    .option('--reason <text>', 'why (recorded in the audit.prune event)')
    .action(async (o: { before: string; reason?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const result = await api.call<Record<string, unknown>>('POST', '/api/v1/audit/prune', {
        before: o.before,
        ...(o.reason ? { reason: o.reason } : {}),
      });
      printRecord(out, result);
    });

  audit
    .command('sinks')
    .description('live-forwarding sinks and how far each receiver has acknowledged')
    .action(async (_o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const sinks = await api.call<{ items: Record<string, Cell>[] }>('GET', '/api/v1/audit/sinks');
      printPage(out, { ...sinks, nextCursor: null }, ['name', 'cursor', 'lag', 'lastError', 'updatedAt']);
    });

  audit.addCommand(auditVerifyCommand());
  return audit;
}
