import { Command } from 'commander';
import { contextOf } from '../context.js';
import { printPage } from '../output.js';

type SigningKey = {
  kid: string;
  alg: string;
  state: string;
  createdAt: string;
  activatedAt: string | null;
  publishUntil: string | null;
};
const COLUMNS = ['kid', 'alg', 'state', 'createdAt', 'activatedAt', 'publishUntil'];

export function keysCommand(): Command {
  const keys = new Command('keys').description("the authorization server's token-signing keys");
  keys
    .command('list')
    .description('list signing keys (next, active, retired)')
    .action(async (_o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const page = await api.call<{ items: SigningKey[] }>('GET', '/api/v1/keys');
      printPage(out, { items: page.items, nextCursor: null }, COLUMNS);
    });
  keys
    .command('rotate')
    .description('rotate now: next → active, active → retired (published until its tokens expire)')
    .option('--reason <text>', 'why; recorded in the audit log')
    .action(async (o: { reason?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const page = await api.call<{ items: SigningKey[] }>(
        'POST',
        '/api/v1/keys/rotate',
        o.reason ? { reason: o.reason } : {},
      );
      printPage(out, { items: page.items, nextCursor: null }, COLUMNS);
    });
  return keys;
}
