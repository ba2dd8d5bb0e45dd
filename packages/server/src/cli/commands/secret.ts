import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { CliError } from '../api-client.js';
import { contextOf, enc } from '../context.js';
import { printPage, printRecord } from '../output.js';

type Secret = { name: string; description: string; version: number; updatedAt: string };

/**
 * Reads a secret value without putting it on the command line (where `ps` and
 * shell history would see it): from a file, from an environment variable, or
 * from standard input (`--value-file -`). A single trailing newline is dropped.
 */
async function readValue(o: { valueFile?: string; fromEnv?: string }): Promise<string> {
  if ((o.valueFile === undefined) === (o.fromEnv === undefined)) {
    throw new CliError('give the value with exactly one of --value-file <file|-> or --from-env <VAR>');
  }
  let value: string;
  if (o.fromEnv !== undefined) {
    const fromEnv = process.env[o.fromEnv];
    if (fromEnv === undefined) throw new CliError(`environment variable \`${o.fromEnv}\` is not set`);
    value = fromEnv;
  } else if (o.valueFile === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    value = Buffer.concat(chunks).toString('utf8');
  } else {
    value = await readFile(o.valueFile as string, 'utf8').catch((error: Error) => {
      throw new CliError(`cannot read \`${o.valueFile}\`: ${error.message}`);
    });
  }
  return value.replace(/\r?\n$/, '');
}

function withValueOptions(command: Command): Command {
  return command
    .option('--value-file <file>', 'read the value from a file, or - for standard input')
    .option('--from-env <VAR>', 'read the value from an environment variable')
    .option('--description <text>', 'what the credential is for');
}

export function secretCommand(): Command {
  const secret = new Command('secret').description(
    'the vault of downstream credentials (values are write-only)',
  );
  withValueOptions(secret.command('set <name>').description('store a secret (or replace its value)')).action(
    async (name: string, o: { valueFile?: string; fromEnv?: string; description?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const value = await readValue(o);
      const body = { value, ...(o.description !== undefined ? { description: o.description } : {}) };
      printRecord(out, await api.call<Secret>('PUT', `/api/v1/secrets/${enc(name)}`, body));
    },
  );
  withValueOptions(
    secret.command('rotate <name>').description('replace the value of an existing secret'),
  ).action(
    async (name: string, o: { valueFile?: string; fromEnv?: string; description?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const value = await readValue(o);
      const body = { value, ...(o.description !== undefined ? { description: o.description } : {}) };
      printRecord(out, await api.call<Secret>('POST', `/api/v1/secrets/${enc(name)}/rotate`, body));
    },
  );
  secret
    .command('list')
    .description("list secrets' metadata (never values)")
    .action(async (_o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const page = await api.call<{ items: Secret[] }>('GET', '/api/v1/secrets');
      printPage(out, { items: page.items, nextCursor: null }, [
        'name',
        'version',
        'description',
        'updatedAt',
      ]);
    });
  secret
    .command('delete <name>')
    .description('delete a secret')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { api } = contextOf(cmd);
      await api.call<null>('DELETE', `/api/v1/secrets/${enc(name)}`);
      process.stdout.write(`deleted ${name}\n`);
    });
  secret
    .command('rewrap')
    .description('re-seal every stored key with the current master key (after a master-key rotation)')
    .action(async (_o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(out, await api.call<Record<string, number>>('POST', '/api/v1/secrets/rewrap', {}));
    });
  return secret;
}
