import { Command, InvalidArgumentError } from 'commander';
import { contextOf, enc } from '../context.js';
import { formatTable, printRecord } from '../output.js';
import { queryString } from '../parse.js';

type Activity = {
  agent: string;
  from: string;
  to: string;
  events: number;
  truncated: boolean;
  calls: number;
  denied: number;
  denyRate: number;
  tokens: number;
  bytes: number;
  timeline: { at: string; calls: number; denied: number; tokens: number }[];
  resources: { resource: string; calls: number; denied: number; lastAt: string }[];
  sourceAddresses: { address: string; events: number; lastAt: string }[];
  onBehalfOf: { user: string; events: number; lastAt: string }[];
};

const BUCKETS = ['1m', '5m', '15m', '1h', '1d'];
const UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since 2h` or an RFC 3339 time. */
function since(value: string): string {
  const duration = /^(\d{1,5})([mhd])$/.exec(value);
  if (duration)
    return new Date(Date.now() - Number(duration[1]) * (UNITS[duration[2] as string] ?? 0)).toISOString();
  if (/^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value)))
    return new Date(value).toISOString();
  throw new InvalidArgumentError('expected a duration (30m, 2h, 7d) or an RFC 3339 time');
}

/** `custos agent kill|activity|baseline|unrestrict`: the monitor's commands about one agent. */
export function agentMonitorCommands(): Command[] {
  const kill = new Command('kill')
    .argument('<id>')
    .description('kill switch: suspend the agent and revoke all its keys and tokens, everywhere at once')
    .requiredOption('--reason <text>', 'why; recorded in the audit log')
    .action(async (id: string, o: { reason: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const r = await api.call<{
        agent: { id: string; status: string };
        revokedKeys: string[];
        revokedTokens: number;
      }>('POST', `/api/v1/agents/${enc(id)}/kill`, { reason: o.reason });
      if (out.json) printRecord(out, r);
      else
        printRecord(out, {
          id: r.agent.id,
          status: r.agent.status,
          revokedKeys: r.revokedKeys.length > 0 ? r.revokedKeys.join(', ') : '-',
          revokedTokens: r.revokedTokens,
        });
    });
  const activity = new Command('activity')
    .argument('<id>')
    .description("an agent's activity: calls over time, tools used, deny rate, addresses, users")
    .option(
      '--since <when>',
      'start: a duration back from now (30m, 2h, 7d) or an RFC 3339 time (default 24h)',
      since,
    )
    .option('--bucket <size>', BUCKETS.join(' | '), (v: string) => {
      if (!BUCKETS.includes(v)) throw new InvalidArgumentError(`expected one of ${BUCKETS.join(', ')}`);
      return v;
    })
    .action(async (id: string, o: { since?: string; bucket?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const v = await api.call<Activity>(
        'GET',
        `/api/v1/agents/${enc(id)}/activity${queryString({ from: o.since, bucket: o.bucket })}`,
      );
      if (out.json) {
        printRecord(out, v);
        return;
      }
      const lines = [
        `${v.agent}: ${v.calls} calls (${v.denied} denied, ${(v.denyRate * 100).toFixed(1)}%), ${v.tokens} token requests, ${v.bytes} bytes, ${v.from} → ${v.to}${v.truncated ? ' (truncated: narrow the range)' : ''}`,
        '',
        formatTable(
          v.timeline.filter((b) => b.calls + b.tokens > 0),
          ['at', 'calls', 'denied', 'tokens'],
        ),
        '',
        formatTable(v.resources, ['resource', 'calls', 'denied', 'lastAt']),
        '',
        formatTable(v.sourceAddresses, ['address', 'events', 'lastAt']),
        ...(v.onBehalfOf.length > 0 ? ['', formatTable(v.onBehalfOf, ['user', 'events', 'lastAt'])] : []),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  const baseline = new Command('baseline')
    .argument('<id>')
    .description('what the monitor has learned about an agent')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const b = await api.call<Record<string, unknown>>('GET', `/api/v1/agents/${enc(id)}/baseline`);
      if (!out.json) delete b.hourOfWeek;
      printRecord(out, b);
    });
  const unrestrict = new Command('unrestrict')
    .argument('<id>')
    .description("lift a response rule's restriction (approval required for sensitive calls)")
    .requiredOption('--reason <text>', 'why; recorded in the audit log')
    .action(async (id: string, o: { reason: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(
        out,
        await api.call<Record<string, unknown>>('POST', `/api/v1/agents/${enc(id)}/unrestrict`, {
          reason: o.reason,
        }),
      );
    });
  return [kill, activity, baseline, unrestrict];
}
