import { Command } from 'commander';
import { contextOf } from '../context.js';
import { printPage, printRecord } from '../output.js';
import { positiveInt, queryString } from '../parse.js';

type Team = { name: string; description: string; createdAt: string };

export function teamCommand(): Command {
  const team = new Command('team').description('teams that agents and humans belong to');
  team
    .command('create <name>')
    .description('create a team')
    .option('--description <text>')
    .action(async (name: string, o: { description?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(out, await api.call<Team>('POST', '/api/v1/teams', { name, ...o }));
    });
  team
    .command('list')
    .description('list teams')
    .option('--limit <n>', 'page size', positiveInt)
    .option('--cursor <cursor>')
    .action(async (o: { limit?: number; cursor?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const qs = queryString({ limit: o.limit, cursor: o.cursor });
      printPage(
        out,
        await api.call<{ items: Team[]; nextCursor: string | null }>('GET', `/api/v1/teams${qs}`),
        ['name', 'description', 'createdAt'],
      );
    });
  return team;
}
