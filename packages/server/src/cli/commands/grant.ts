import { Command } from 'commander';
import { CliError } from '../api-client.js';
import { contextOf, enc } from '../context.js';
import { printPage, printRecord } from '../output.js';
import { parseExpiry, positiveInt, queryString } from '../parse.js';
import { parseUid } from '../policy-files.js';

type Grant = {
  id: string;
  principal: { type: string; id: string };
  action: string;
  resource: { type: string; id: string };
  scope: string;
  condition: string | null;
  expiresAt: string | null;
  status: string;
};

const uid = (u: { type: string; id: string }) => `${u.type}::${JSON.stringify(u.id)}`;

interface AddOptions {
  agent?: string;
  team?: string;
  user?: string;
  action: string;
  tool?: string;
  server?: string;
  resource?: string;
  in?: boolean;
  when?: string;
  until?: string;
  reason: string;
}

/** The grant's resource from --tool, --server or --resource (exactly one). */
function resourceOf(o: AddOptions): { resource: { type: string; id: string }; scope: 'eq' | 'in' } {
  const given = [o.tool, o.server, o.resource].filter((v) => v !== undefined);
  if (given.length !== 1) throw new CliError('give exactly one of --tool, --server and --resource');
  if (o.tool !== undefined) return { resource: { type: 'Tool', id: o.tool }, scope: 'eq' };
  if (o.server !== undefined) return { resource: { type: 'McpServer', id: o.server }, scope: 'in' };
  return { resource: parseUid(o.resource as string), scope: o.in ? 'in' : 'eq' };
}

export function grantCommand(): Command {
  const grant = new Command('grant').description('grants: give access without writing Cedar');
  grant
    .command('add')
    .description('let an agent, a person, or every agent and person of a team do an action on a resource')
    .option('--agent <id>', 'the agent (agt_…)')
    .option('--team <name>', 'every agent and person of this team')
    .option('--user <id|email>', 'a person (what they may do, and delegate to agents)')
    .option('--action <action>', 'the action', 'tools/call')
    .option('--tool <server/tool>', 'one MCP tool')
    .option('--server <server>', 'every tool of an MCP server')
    .option('--resource <uid>', 'any entity, e.g. Scope::"read" or Route::"billing/GET /invoices"')
    .option('--in', 'with --resource: every resource inside it')
    .option('--when <cedar>', "a condition, e.g. 'context.input.amount < 100'")
    .option('--until <when>', 'end of the grant: RFC 3339 time or duration (2h, 7d)', (v) => parseExpiry(v))
    .requiredOption('--reason <text>', 'why; recorded in the policy history')
    .action(async (o: AddOptions, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const who = [o.agent, o.team, o.user].filter((v) => v !== undefined);
      if (who.length !== 1) throw new CliError('give exactly one of --agent, --team and --user');
      const { resource, scope } = resourceOf(o);
      const body = {
        principal:
          o.agent !== undefined
            ? { type: 'Agent', id: o.agent }
            : o.user !== undefined
              ? { type: 'User', id: o.user }
              : { type: 'Team', id: o.team },
        action: o.action,
        resource,
        scope,
        ...(o.when !== undefined ? { condition: o.when } : {}),
        ...(o.until !== undefined ? { expiresAt: o.until } : {}),
        reason: o.reason,
      };
      printRecord(out, await api.call<Grant>('POST', '/api/v1/grants', body));
    });
  grant
    .command('list')
    .description('grants, by agent, team or person')
    .option('--agent <id>')
    .option('--team <name>')
    .option('--user <id>', 'a person (usr_…)')
    .option('--live', 'only grants in force now')
    .option('--limit <n>', 'page size', positiveInt)
    .option('--cursor <cursor>')
    .action(
      async (
        o: { agent?: string; team?: string; user?: string; live?: boolean; limit?: number; cursor?: string },
        cmd: Command,
      ) => {
        const { api, out } = contextOf(cmd);
        const page = await api.call<{ items: Grant[]; nextCursor: string | null }>(
          'GET',
          `/api/v1/grants${queryString({
            agent: o.agent,
            team: o.team,
            user: o.user,
            live: o.live ? 'true' : undefined,
            limit: o.limit,
            cursor: o.cursor,
          })}`,
        );
        printPage(out, page, ['id', 'principal', 'action', 'resource', 'until', 'status'], (g) => ({
          id: g.id,
          principal: uid(g.principal),
          action: g.action,
          resource: `${g.scope === 'in' ? 'in ' : ''}${uid(g.resource)}${g.condition ? ' when …' : ''}`,
          until: g.expiresAt,
          status: g.status,
        }));
      },
    );
  grant
    .command('revoke <id>')
    .description('revoke a grant; decisions stop using it at once')
    .requiredOption('--reason <text>', 'why; recorded in the policy history')
    .action(async (id: string, o: { reason: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(
        out,
        await api.call<Grant>('POST', `/api/v1/grants/${enc(id)}/revoke`, { reason: o.reason }),
      );
    });
  return grant;
}
