import { Command } from 'commander';
import { CliError } from '../api-client.js';
import { contextOf, enc } from '../context.js';
import { printPage, printRecord } from '../output.js';
import { positiveInt, queryString } from '../parse.js';
import { readJsonFile } from '../policy-files.js';

type Entity = { uid: { type: string; id: string }; attrs: Record<string, unknown>; parents: unknown[] };

export function entityCommand(): Command {
  const entity = new Command('entity').description(
    "entities policies decide about (Cedar's JSON entity format)",
  );
  entity
    .command('apply <file>')
    .description('create or replace the entities of a JSON file (an array, or { "entities": [...] })')
    .option('--reason <text>', 'why; recorded in the audit log')
    .action(async (file: string, o: { reason?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const parsed = await readJsonFile(file);
      const entities = Array.isArray(parsed) ? parsed : (parsed as { entities?: unknown } | null)?.entities;
      if (!Array.isArray(entities))
        throw new CliError(`\`${file}\` must hold an array of entities or { "entities": [...] }`);
      const result = await api.call<{ upserted: number; uids: string[] }>('POST', '/api/v1/entities', {
        entities,
        ...(o.reason ? { reason: o.reason } : {}),
      });
      if (out.json) printRecord(out, result);
      else process.stdout.write(`upserted ${result.upserted} entit${result.upserted === 1 ? 'y' : 'ies'}\n`);
    });
  entity
    .command('list')
    .description('stored entities')
    .option('--type <type>', 'only this entity type')
    .option('--limit <n>', 'page size', positiveInt)
    .option('--cursor <cursor>')
    .action(async (o: { type?: string; limit?: number; cursor?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const page = await api.call<{ items: Entity[]; nextCursor: string | null }>(
        'GET',
        `/api/v1/entities${queryString({ type: o.type, limit: o.limit, cursor: o.cursor })}`,
      );
      printPage(out, page, ['type', 'id', 'attrs', 'parents'], (e) => ({
        type: e.uid.type,
        id: e.uid.id,
        attrs: JSON.stringify(e.attrs),
        parents: JSON.stringify(e.parents),
      }));
    });
  entity
    .command('get <type> <id>')
    .description("an entity as decisions see it (Custos' agents, users and teams included)")
    .action(async (type: string, id: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(out, await api.call<Entity>('GET', `/api/v1/entities/${enc(type)}/${enc(id)}`));
    });
  entity
    .command('delete <type> <id>')
    .description('delete a stored entity')
    .action(async (type: string, id: string, _o: unknown, cmd: Command) => {
      const { api } = contextOf(cmd);
      await api.call<null>('DELETE', `/api/v1/entities/${enc(type)}/${enc(id)}`);
      process.stdout.write(`deleted ${type}::${JSON.stringify(id)}\n`);
    });
  return entity;
}
