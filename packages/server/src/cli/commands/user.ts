import { Command } from 'commander';
import { CliError } from '../api-client.js';
import { contextOf, enc } from '../context.js';
import { printPage, printRecord } from '../output.js';
import { positiveInt, queryString } from '../parse.js';
import { readSecret } from '../read-secret.js';

type User = { id: string; email: string; name: string; status: string; managerId: string | null };

export function userCommand(): Command {
  const user = new Command('user').description('humans: owners of agents, managers, approvers');
  user
    .command('create')
    .description('register a human')
    .requiredOption('--email <email>', 'email (unique)')
    .requiredOption('--name <name>', 'display name')
    .option('--manager <user>', 'manager, by id or email')
    .action(async (o: { email: string; name: string; manager?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(out, await api.call<User>('POST', '/api/v1/users', o));
    });
  user
    .command('list')
    .description('list and search humans')
    .option('--status <status>', 'active | deactivated')
    .option('-q, --query <text>', 'text in email or name')
    .option('--limit <n>', 'page size', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (o: { status?: string; query?: string; limit?: number; cursor?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const qs = queryString({ status: o.status, q: o.query, limit: o.limit, cursor: o.cursor });
      printPage(
        out,
        await api.call<{ items: User[]; nextCursor: string | null }>('GET', `/api/v1/users${qs}`),
        ['id', 'email', 'name', 'status'],
      );
    });
  user
    .command('get <user>')
    .description('show a human, by id or email')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(out, await api.call<User>('GET', `/api/v1/users/${enc(ref)}`));
    });
  user
    .command('update <user>')
    .description('change email, name or manager')
    .option('--email <email>')
    .option('--name <name>')
    .option('--manager <user>', 'new manager, by id or email')
    .option('--no-manager', 'remove the manager')
    .action(
      async (ref: string, o: { email?: string; name?: string; manager?: string | false }, cmd: Command) => {
        const { api, out } = contextOf(cmd);
        const body = {
          ...(o.email !== undefined ? { email: o.email } : {}),
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(o.manager === false
            ? { manager: null }
            : o.manager !== undefined
              ? { manager: o.manager }
              : {}),
        };
        printRecord(out, await api.call<User>('PATCH', `/api/v1/users/${enc(ref)}`, body));
      },
    );
  user
    .command('deactivate <user>')
    .description('deactivate a human (their owner tokens stop working)')
    .option('--reason <text>', 'why')
    .action(async (ref: string, o: { reason?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(
        out,
        await api.call<User>('POST', `/api/v1/users/${enc(ref)}/deactivate`, o.reason ? o : {}),
      );
    });
  user
    .command('set-password <user>')
    .description(
      'set the console password and role of a human (admin); reads the password from --password-file, a pipe or the terminal, never from the arguments',
    )
    .option('--role <role>', 'console role: owner (default), auditor or admin', 'owner')
    .option('--password-file <path>', 'read the password from this file (one trailing newline is dropped)')
    .action(async (ref: string, o: { role: string; passwordFile?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      if (!['owner', 'auditor', 'admin'].includes(o.role)) {
        throw new CliError(`unknown role \`${o.role}\`: expected owner, auditor or admin`, 2);
      }
      const password = await readSecret('password', o.passwordFile);
      if (password === '') throw new CliError('empty password', 2);
      printRecord(
        out,
        await api.call<Record<string, unknown>>('POST', `/api/v1/users/${enc(ref)}/password`, {
          password,
          role: o.role,
        }),
      );
    });
  user
    .command('remove-password <user>')
    .description('remove the console password of a human (admin); ends their console sessions')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      await api.call('DELETE', `/api/v1/users/${enc(ref)}/password`);
      printRecord(out, { user: ref, password: 'removed' });
    });
  return user;
}
