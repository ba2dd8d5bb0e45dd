import { Command } from 'commander';
import { contextOf, enc } from '../context.js';
import { type Cell, printPage, printRecord } from '../output.js';
import { collectList, collectTag, parseExpiry, positiveInt, queryString } from '../parse.js';
import { agentKeyCommand } from './agent-key.js';
import { agentMonitorCommands } from './agent-monitor.js';

type Agent = {
  id: string;
  name: string;
  owner: { id: string; email: string };
  team: string | null;
  environment: string;
  status: string;
  riskLevel: string;
  expiresAt: string;
  tags: Record<string, string>;
};

const flatten = (a: Agent): Record<string, Cell> => ({
  id: a.id,
  name: a.name,
  owner: a.owner.email,
  team: a.team,
  environment: a.environment,
  status: a.status,
  risk: a.riskLevel,
  expires: a.expiresAt.slice(0, 10),
});

interface AgentFields {
  owner?: string;
  team?: string;
  purpose?: string;
  environment?: string;
  tag?: Record<string, string>;
  risk?: string;
  expires?: string;
  scope?: string[];
  audience?: string[];
  requireDpop?: boolean;
}

function fields(o: AgentFields): Record<string, unknown> {
  return {
    ...(o.owner !== undefined ? { owner: o.owner } : {}),
    ...(o.team !== undefined ? { team: o.team } : {}),
    ...(o.purpose !== undefined ? { purpose: o.purpose } : {}),
    ...(o.environment !== undefined ? { environment: o.environment } : {}),
    ...(o.tag !== undefined ? { tags: o.tag } : {}),
    ...(o.risk !== undefined ? { riskLevel: o.risk } : {}),
    ...(o.expires !== undefined ? { expiresAt: o.expires } : {}),
    ...(o.scope !== undefined ? { allowedScopes: o.scope } : {}),
    ...(o.audience !== undefined ? { allowedAudiences: o.audience } : {}),
    ...(o.requireDpop !== undefined ? { requireDpop: o.requireDpop } : {}),
  };
}

function withFieldOptions(command: Command): Command {
  return command
    .option('--team <team>', 'team name')
    .option('--purpose <text>', 'what the agent is for')
    .option('--environment <env>', 'e.g. production, staging (default: default)')
    .option('--tag <key=value>', 'label; repeat for several', collectTag)
    .option('--risk <level>', 'low | medium | high | critical')
    .option('--expires <when>', 'RFC 3339 time or duration (30d, 12h)', (v) => parseExpiry(v))
    .option('--scope <scope>', 'a scope it may be issued; repeat for several', collectList)
    .option('--audience <uri>', 'a resource it may get tokens for; repeat for several', collectList)
    .option('--require-dpop', 'refuse its token requests without a DPoP proof')
    .option('--no-require-dpop', 'accept bearer (non-DPoP) token requests');
}

export function agentCommand(): Command {
  const agent = new Command('agent').description('the agent inventory and lifecycle');
  withFieldOptions(
    agent
      .command('create <name>')
      .description('register an agent')
      .requiredOption('--owner <user>', 'accountable human (id or email)'),
  ).action(async (name: string, o: AgentFields, cmd: Command) => {
    const { api, out } = contextOf(cmd);
    printRecord(out, await api.call<Agent>('POST', '/api/v1/agents', { name, ...fields(o) }));
  });
  agent
    .command('list')
    .description('search the inventory')
    .option('--owner <user>', 'owner id or email')
    .option('--team <team>')
    .option('--status <status>', 'active | suspended | decommissioned')
    .option('--environment <env>')
    .option('--tag <key=value>', 'repeat to require several', collectTag)
    .option('-q, --query <text>', 'text in id, name or purpose')
    .option('--limit <n>', 'page size', positiveInt)
    .option('--cursor <cursor>')
    .action(
      async (
        o: AgentFields & { status?: string; query?: string; limit?: number; cursor?: string },
        cmd: Command,
      ) => {
        const { api, out } = contextOf(cmd);
        const qs = queryString({
          owner: o.owner,
          team: o.team,
          status: o.status,
          environment: o.environment,
          tag: o.tag ? Object.entries(o.tag).map(([k, v]) => `${k}=${v}`) : undefined,
          q: o.query,
          limit: o.limit,
          cursor: o.cursor,
        });
        const page = await api.call<{ items: Agent[]; nextCursor: string | null }>(
          'GET',
          `/api/v1/agents${qs}`,
        );
        printPage(
          out,
          page,
          ['id', 'name', 'owner', 'team', 'environment', 'status', 'risk', 'expires'],
          flatten,
        );
      },
    );
  agent
    .command('get <id>')
    .description('show an agent')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(out, await api.call<Agent>('GET', `/api/v1/agents/${enc(id)}`));
    });
  withFieldOptions(
    agent
      .command('update <id>')
      .description("change an agent's fields")
      .option('--name <name>')
      .option('--owner <user>'),
  ).action(async (id: string, o: AgentFields & { name?: string }, cmd: Command) => {
    const { api, out } = contextOf(cmd);
    const body = { ...(o.name !== undefined ? { name: o.name } : {}), ...fields(o) };
    printRecord(out, await api.call<Agent>('PATCH', `/api/v1/agents/${enc(id)}`, body));
  });
  for (const [verb, description] of [
    ['suspend', 'suspend an active agent (reversible)'],
    ['resume', 'resume a suspended agent'],
    ['decommission', 'decommission an agent for good'],
  ] as const) {
    agent
      .command(`${verb} <id>`)
      .description(description)
      .requiredOption('--reason <text>', 'why; recorded in the audit log')
      .action(async (id: string, o: { reason: string }, cmd: Command) => {
        const { api, out } = contextOf(cmd);
        printRecord(
          out,
          await api.call<Agent>('POST', `/api/v1/agents/${enc(id)}/${verb}`, { reason: o.reason }),
        );
      });
  }
  agent.addCommand(agentKeyCommand());
  for (const command of agentMonitorCommands()) agent.addCommand(command);
  return agent;
}
