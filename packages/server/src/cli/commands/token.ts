import { Command } from 'commander';
import { contextOf, enc } from '../context.js';
import { printPage, printRecord } from '../output.js';
import { parseExpiry, positiveInt, queryString } from '../parse.js';

type Token = {
  id: string;
  name: string;
  role: string;
  userId: string | null;
  expiresAt: string;
  revokedAt: string | null;
};

export function tokenCommand(): Command {
  const token = new Command('token').description('admin API tokens (cst_pat_…)');
  token
    .command('create')
    .description('issue a token; it is printed once')
    .requiredOption('--name <name>', 'what the token is for')
    .requiredOption('--role <role>', 'admin | auditor | owner')
    .option('--user <user>', 'the human it acts for (required for owner)')
    .option('--expires <when>', 'RFC 3339 time or duration (30d, 12h)', (v) => parseExpiry(v))
    .action(async (o: { name: string; role: string; user?: string; expires?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const body = {
        name: o.name,
        role: o.role,
        ...(o.user ? { user: o.user } : {}),
        ...(o.expires ? { expiresAt: o.expires } : {}),
      };
      printRecord(out, await api.call<Token & { token: string }>('POST', '/api/v1/tokens', body));
    });
  token
    .command('list')
    .description('list tokens (never their values)')
    .option('--limit <n>', 'page size', positiveInt)
    .option('--cursor <cursor>')
    .action(async (o: { limit?: number; cursor?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const qs = queryString({ limit: o.limit, cursor: o.cursor });
      const page = await api.call<{ items: Token[]; nextCursor: string | null }>(
        'GET',
        `/api/v1/tokens${qs}`,
      );
      printPage(out, page, ['id', 'name', 'role', 'userId', 'expiresAt', 'revokedAt']);
    });
  token
    .command('revoke <id>')
    .description('revoke a token now')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(out, await api.call<Token>('DELETE', `/api/v1/tokens/${enc(id)}`));
    });
  token
    .command('generate')
    .description('print a fresh, unregistered token (e.g. for CUSTOS_BOOTSTRAP_TOKEN); works offline')
    .action(async () => {
      // imported here: the identity module pulls in storage, which client commands do not need
      const { generateAdminToken } = await import('../../identity/index.js');
      process.stdout.write(`${generateAdminToken()}\n`);
    });
  return token;
}
