import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import { CliError } from '../api-client.js';
import { contextOf, enc } from '../context.js';
import { printPage, printRecord } from '../output.js';
import { collectList } from '../parse.js';

type Rule = { claims: Record<string, string>; agent: string };
type Issuer = { id: string; issuer: string; jwksUri: string | null; audiences: string[]; rules: Rule[] };

/** `--rule agt_…:sub=system:serviceaccount:ns:bot[,claim=value…]` */
export function parseRule(value: string, previous: Rule[] = []): Rule[] {
  const at = value.indexOf(':');
  const agent = value.slice(0, at);
  const claims: Record<string, string> = {};
  for (const pair of value.slice(at + 1).split(',')) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new InvalidArgumentError('expected <agent id>:<claim>=<value>[,<claim>=<value>…]');
    claims[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (at < 1 || Object.keys(claims).length === 0) {
    throw new InvalidArgumentError('expected <agent id>:<claim>=<value>[,<claim>=<value>…]');
  }
  return [...previous, { agent, claims }];
}

export function federationCommand(): Command {
  const federation = new Command('federation').description(
    'trusted issuers of workload tokens (Kubernetes, CI, SPIFFE)',
  );
  federation
    .command('add')
    .description('trust an issuer; its tokens authenticate the agents the rules name')
    .requiredOption('--issuer <url>', 'the `iss` of its tokens')
    .option('--jwks-uri <url>', 'where its public keys are published')
    .option('--jwks-file <file>', 'its public keys, as a JWKS JSON file (instead of --jwks-uri)')
    .requiredOption('--audience <aud>', 'an accepted `aud`; repeat for several', collectList)
    .requiredOption('--rule <rule>', 'agt_…:claim=value[,claim=value]; repeat for several', parseRule)
    .action(
      async (
        o: { issuer: string; jwksUri?: string; jwksFile?: string; audience: string[]; rule: Rule[] },
        cmd: Command,
      ) => {
        const { api, out } = contextOf(cmd);
        let jwks: unknown;
        if (o.jwksFile) {
          try {
            jwks = JSON.parse(await readFile(o.jwksFile, 'utf8'));
          } catch (error) {
            throw new CliError(`cannot read a JWKS from \`${o.jwksFile}\`: ${(error as Error).message}`);
          }
        }
        const body = {
          issuer: o.issuer,
          ...(o.jwksUri ? { jwksUri: o.jwksUri } : {}),
          ...(jwks ? { jwks } : {}),
          audiences: o.audience,
          rules: o.rule,
        };
        printRecord(out, await api.call<Issuer>('POST', '/api/v1/federation/issuers', body));
      },
    );
  federation
    .command('list')
    .description('list trusted issuers')
    .action(async (_o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const page = await api.call<{ items: Issuer[] }>('GET', '/api/v1/federation/issuers');
      printPage(
        out,
        { items: page.items, nextCursor: null },
        ['id', 'issuer', 'audiences', 'rules'],
        (i) => ({ id: i.id, issuer: i.issuer, audiences: i.audiences.join(' '), rules: i.rules.length }),
      );
    });
  federation
    .command('remove <id>')
    .description('stop trusting an issuer; tokens obtained through it stop working at once')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { api } = contextOf(cmd);
      await api.call<null>('DELETE', `/api/v1/federation/issuers/${enc(id)}`);
      process.stdout.write(`removed ${id}\n`);
    });
  return federation;
}
