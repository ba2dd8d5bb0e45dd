import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { CliError } from '../api-client.js';
import { contextOf, enc } from '../context.js';
import { printPage, printRecord } from '../output.js';
import { collectList, parseExpiry } from '../parse.js';

type Idp = { id: string; issuer: string; audience: string; claim: string; jitUsers: boolean };
type Consent = {
  id: string;
  user: string;
  agent: string;
  scopes: string[];
  expiresAt: string;
  revokedAt: string | null;
};

export function idpCommand(): Command {
  const idp = new Command('idp').description(
    "trusted identity providers for people (delegation's subject tokens)",
  );
  idp
    .command('add')
    .description('trust an OpenID provider: its tokens name people agents act for')
    .requiredOption('--issuer <url>', 'the `iss` of its tokens')
    .option('--jwks-uri <url>', 'where its keys are published')
    .option('--jwks-file <file>', 'its keys as a JWKS JSON file (instead of --jwks-uri)')
    .requiredOption('--audience <aud>', 'the `aud` its tokens carry for Custos')
    .option('--claim <claim>', 'how a person is found: email (default) or sub', 'email')
    .option('--jit-users', 'create unknown people on first sight')
    .action(
      async (
        o: {
          issuer: string;
          jwksUri?: string;
          jwksFile?: string;
          audience: string;
          claim: string;
          jitUsers?: boolean;
        },
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
          audience: o.audience,
          claim: o.claim,
          ...(o.jwksUri ? { jwksUri: o.jwksUri } : {}),
          ...(jwks ? { jwks } : {}),
          ...(o.jitUsers ? { jitUsers: true } : {}),
        };
        printRecord(out, await api.call<Idp>('POST', '/api/v1/idps', body));
      },
    );
  idp
    .command('list')
    .description('list trusted identity providers')
    .action(async (_o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const page = await api.call<{ items: Idp[] }>('GET', '/api/v1/idps');
      printPage(out, { items: page.items, nextCursor: null }, [
        'id',
        'issuer',
        'audience',
        'claim',
        'jitUsers',
      ]);
    });
  idp
    .command('remove <id>')
    .description('stop trusting an identity provider')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { api } = contextOf(cmd);
      await api.call<null>('DELETE', `/api/v1/idps/${enc(id)}`);
      process.stdout.write(`removed ${id}\n`);
    });
  return idp;
}

export function consentCommand(): Command {
  const consent = new Command('consent').description('people letting agents act on their behalf');
  consent
    .command('grant')
    .description('record a consent')
    .requiredOption('--user <user>', 'the person (id or email)')
    .requiredOption('--agent <agent>', 'the agent (agt_…)')
    .requiredOption('--scope <scope>', 'a scope the agent may use for them; repeat for several', collectList)
    .option(
      '--tool <server/tool>',
      'limit the agent to this tool for them (`server/*`: every tool of a server); repeat for several',
      collectList,
    )
    .requiredOption('--expires <when>', 'RFC 3339 time or duration (e.g. 30d)', (v) => parseExpiry(v))
    .action(
      async (
        o: { user: string; agent: string; scope: string[]; tool?: string[]; expires: string },
        cmd: Command,
      ) => {
        const { api, out } = contextOf(cmd);
        const body = {
          user: o.user,
          agent: o.agent,
          scopes: o.scope,
          ...(o.tool ? { tools: o.tool } : {}),
          expiresAt: o.expires,
        };
        printRecord(out, await api.call<Consent>('POST', '/api/v1/consents', body));
      },
    );
  consent
    .command('list')
    .description('list consents')
    .option('--user <user>')
    .option('--agent <agent>')
    .action(async (o: { user?: string; agent?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const qs = new URLSearchParams({
        ...(o.user ? { user: o.user } : {}),
        ...(o.agent ? { agent: o.agent } : {}),
      });
      const page = await api.call<{ items: Consent[] }>('GET', `/api/v1/consents${qs.size ? `?${qs}` : ''}`);
      printPage(
        out,
        { items: page.items, nextCursor: null },
        ['id', 'user', 'agent', 'scopes', 'expiresAt', 'revokedAt'],
        (c) => ({
          ...c,
          scopes: c.scopes.join(' '),
        }),
      );
    });
  consent
    .command('revoke <id>')
    .description('withdraw a consent; tokens derived from it stop working at once')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(out, await api.call<Consent>('DELETE', `/api/v1/consents/${enc(id)}`));
    });
  return consent;
}
