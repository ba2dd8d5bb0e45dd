import { Command, InvalidArgumentError } from 'commander';
import { contextOf, enc } from '../context.js';
import { printPage, printRecord } from '../output.js';
import { positiveInt, queryString } from '../parse.js';

type Finding = {
  id: string;
  detector: string;
  severity: string;
  status: string;
  agent: string;
  title: string;
  occurrences: number;
  lastSeen: string;
  response: string | null;
};

const STATUSES = ['open', 'acknowledged', 'resolved', 'false_positive'];
const SEVERITIES = ['low', 'medium', 'high', 'critical'];
const oneOf = (values: readonly string[]) => (value: string) => {
  if (!values.includes(value)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
  return value;
};

export function findingCommand(): Command {
  const finding = new Command('finding').description("the monitor's findings about agents' behaviour");
  finding
    .command('list')
    .description('list findings, newest first')
    .option('--status <status>', STATUSES.join(' | '), oneOf(STATUSES))
    .option('--agent <id>', 'findings about this agent')
    .option('--detector <id>', 'e.g. concurrent-use, call-rate-spike')
    .option('--severity <level>', SEVERITIES.join(' | '), oneOf(SEVERITIES))
    .option('--limit <n>', 'page size', positiveInt)
    .option('--cursor <cursor>')
    .action(
      async (
        o: {
          status?: string;
          agent?: string;
          detector?: string;
          severity?: string;
          limit?: number;
          cursor?: string;
        },
        cmd: Command,
      ) => {
        const { api, out } = contextOf(cmd);
        const qs = queryString({
          status: o.status,
          agent: o.agent,
          detector: o.detector,
          severity: o.severity,
          limit: o.limit,
          cursor: o.cursor,
        });
        const page = await api.call<{ items: Finding[]; nextCursor: string | null }>(
          'GET',
          `/api/v1/findings${qs}`,
        );
        printPage(out, page, [
          'id',
          'severity',
          'detector',
          'status',
          'agent',
          'occurrences',
          'lastSeen',
          'response',
          'title',
        ]);
      },
    );
  finding
    .command('get <id>')
    .description('show a finding with its evidence')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(out, await api.call<Record<string, unknown>>('GET', `/api/v1/findings/${enc(id)}`));
    });
  for (const [verb, path, description, required] of [
    ['ack', 'acknowledge', 'acknowledge an open finding (someone is on it)', false],
    ['resolve', 'resolve', 'resolve a finding', true],
    ['false-positive', 'false-positive', 'mark a finding as a false positive', true],
  ] as const) {
    const command = finding.command(`${verb} <id>`).description(description);
    if (required) command.requiredOption('--reason <text>', 'why; recorded in the audit log');
    else command.option('--reason <text>', 'why; recorded in the audit log');
    command.action(async (id: string, o: { reason?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const body = o.reason === undefined ? {} : { reason: o.reason };
      printRecord(
        out,
        await api.call<Record<string, unknown>>('POST', `/api/v1/findings/${enc(id)}/${path}`, body),
      );
    });
  }
  return finding;
}

export function monitorCommand(): Command {
  const monitor = new Command('monitor').description('continuous monitoring of agents');
  monitor
    .command('status')
    .description("the monitor's position in the audit log, detectors, rules and pending alerts")
    .action(async (_o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(out, await api.call<Record<string, unknown>>('GET', '/api/v1/monitor/status'));
    });
  monitor
    .command('restrictions')
    .description('agents whose sensitive calls need approval (set by response rules)')
    .action(async (_o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const page = await api.call<{ items: Record<string, string>[] }>('GET', '/api/v1/monitor/restrictions');
      printPage(out, { items: page.items, nextCursor: null }, [
        'agent',
        'mode',
        'findingId',
        'createdAt',
        'reason',
      ]);
    });
  return monitor;
}
