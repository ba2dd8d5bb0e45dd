import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { CliError } from '../api-client.js';
import { contextOf } from '../context.js';
import { printRecord } from '../output.js';

type SchemaView = {
  version: number;
  text: string;
  core: string;
  defaultExtension: string;
  effective: string;
};

export function schemaCommand(): Command {
  const schema = new Command('schema').description('the Cedar schema policies are validated against');
  schema
    .command('apply <file>')
    .description('make the Cedar schema text in <file> the extension of the platform schema')
    .option('--reason <text>', 'why; recorded in the policy history (required unless --dry-run)')
    .option('--dry-run', 'check it (and that every policy, grant and entity still validates); change nothing')
    .action(async (file: string, o: { reason?: string; dryRun?: boolean }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      if (!o.dryRun && !o.reason) throw new CliError('--reason is required (or use --dry-run)');
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new CliError(`cannot read \`${file}\`: ${(error as Error).message}`);
      }
      const result = await api.call<{ version: number; applied: boolean }>('PUT', '/api/v1/schema', {
        text,
        reason: o.reason ?? 'dry run',
        ...(o.dryRun ? { dryRun: true } : {}),
      });
      if (out.json) printRecord(out, result);
      else
        process.stdout.write(
          `${o.dryRun ? 'valid: nothing changed' : result.applied ? 'applied' : 'unchanged'} (schema version ${result.version})\n`,
        );
    });
  schema
    .command('show')
    .description('the schema extension in force (or the core, the default extension, the effective whole)')
    .option('--core', 'the platform core (cannot change)')
    .option('--default', 'the default extension, to start a redefinition from')
    .option('--effective', 'core and extension together')
    .action(async (o: { core?: boolean; default?: boolean; effective?: boolean }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const view = await api.call<SchemaView>('GET', '/api/v1/schema');
      if (out.json) return printRecord(out, view);
      const text = o.core
        ? view.core
        : o.default
          ? view.defaultExtension
          : o.effective
            ? view.effective
            : view.text;
      process.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
    });
  return schema;
}
