import { Command } from 'commander';
import { CliError } from '../api-client.js';
import { contextOf, enc } from '../context.js';
import { printPage, printRecord } from '../output.js';
import { collectList } from '../parse.js';

type Server = {
  name: string;
  resource: string;
  transport: { type: string };
  tools: { name: string }[];
  sync?: { warnings: string[] };
};
type Api = {
  name: string;
  resource: string;
  baseUrl: string;
  routes: unknown[];
  sync?: { warnings: string[] };
};

interface AuthOptions {
  authHeader?: string;
  authSecret?: string;
  authPrefix?: string;
  bearerSecret?: string;
  oauthTokenUrl?: string;
  oauthClientId?: string;
  oauthClientSecret?: string;
  oauthScope?: string;
  oauthResource?: string;
}

interface LimitOptions {
  agentRate?: string;
  toolRate?: string;
}

function withAuthOptions(command: Command): Command {
  return command
    .option('--auth-header <name>', 'send a vault secret in this header (with --auth-secret)')
    .option('--auth-secret <secret>', 'vault secret for --auth-header')
    .option('--auth-prefix <text>', 'text before the secret in --auth-header (e.g. "Token ")')
    .option('--bearer-secret <secret>', 'send a vault secret as `Authorization: Bearer`')
    .option('--oauth-token-url <url>', 'get upstream tokens with OAuth client credentials from this endpoint')
    .option('--oauth-client-id <id>', 'client id for --oauth-token-url')
    .option('--oauth-client-secret <secret>', 'vault secret holding the client secret')
    .option('--oauth-scope <scope>', 'scope to ask the upstream for')
    .option('--oauth-resource <uri>', 'resource indicator to ask the upstream for')
    .option(
      '--agent-rate <rate/burst>',
      'per-agent limit on this upstream, e.g. 10/20 (requests per second / burst)',
    )
    .option('--tool-rate <rate/burst>', 'per-agent limit on each tool or route, e.g. 2/5');
}

function authOf(o: AuthOptions): Record<string, unknown> | undefined {
  const chosen = [
    o.authHeader !== undefined,
    o.bearerSecret !== undefined,
    o.oauthTokenUrl !== undefined,
  ].filter(Boolean).length;
  if (chosen > 1) throw new CliError('choose one of --auth-header, --bearer-secret and --oauth-token-url');
  if (o.authHeader !== undefined) {
    if (!o.authSecret) throw new CliError('--auth-header needs --auth-secret');
    return {
      type: 'header',
      header: o.authHeader,
      secret: o.authSecret,
      ...(o.authPrefix ? { prefix: o.authPrefix } : {}),
    };
  }
  if (o.bearerSecret !== undefined) return { type: 'bearer', secret: o.bearerSecret };
  if (o.oauthTokenUrl !== undefined) {
    if (!o.oauthClientId || !o.oauthClientSecret)
      throw new CliError('--oauth-token-url needs --oauth-client-id and --oauth-client-secret');
    return {
      type: 'oauth_client_credentials',
      tokenUrl: o.oauthTokenUrl,
      clientId: o.oauthClientId,
      clientSecret: o.oauthClientSecret,
      ...(o.oauthScope ? { scope: o.oauthScope } : {}),
      ...(o.oauthResource ? { resource: o.oauthResource } : {}),
    };
  }
  return undefined;
}

function rate(value: string, flag: string): { rate: number; burst: number } {
  const match = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(value);
  if (!match) throw new CliError(`${flag} must be <rate>/<burst>, e.g. 10/20`);
  return { rate: Number(match[1]), burst: Number(match[2]) };
}

function limitsOf(o: LimitOptions): Record<string, unknown> | undefined {
  const limits = {
    ...(o.agentRate ? { perAgent: rate(o.agentRate, '--agent-rate') } : {}),
    ...(o.toolRate ? { perTool: rate(o.toolRate, '--tool-rate') } : {}),
  };
  return Object.keys(limits).length > 0 ? limits : undefined;
}

function pairs(list: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const at = item.indexOf('=');
    if (at < 1) throw new CliError(`${flag} must be NAME=VALUE, got \`${item}\``);
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

function warn(sync: { warnings: string[] } | undefined): void {
  for (const warning of sync?.warnings ?? []) process.stderr.write(`warning: ${warning}\n`);
}

export function gatewayCommand(): Command {
  const gateway = new Command('gateway').description('MCP servers and HTTP APIs behind the gateway');
  const server = gateway.command('server').description('MCP servers (`/mcp/<name>`)');
  withAuthOptions(
    server
      .command('add <name>')
      .description('register an MCP server: a Streamable HTTP --url, or a stdio --command the gateway runs')
      .option('--url <url>', 'Streamable HTTP endpoint of the server')
      .option('--command <path>', 'program to start (stdio transport)')
      .option('--arg <arg>', 'argument of --command (repeat)', collectList)
      .option('--env <NAME=VALUE>', 'environment variable of --command (repeat)', collectList)
      .option(
        '--secret-env <NAME=SECRET>',
        'environment variable of --command from a vault secret (repeat)',
        collectList,
      )
      .option('--cwd <dir>', 'working directory of --command')
      .option('--description <text>', 'what the server is'),
  ).action(
    async (
      name: string,
      o: AuthOptions &
        LimitOptions & {
          url?: string;
          command?: string;
          arg?: string[];
          env?: string[];
          secretEnv?: string[];
          cwd?: string;
          description?: string;
        },
      cmd: Command,
    ) => {
      const { api, out } = contextOf(cmd);
      if ((o.url === undefined) === (o.command === undefined))
        throw new CliError('give exactly one of --url and --command');
      const transport = o.url
        ? { type: 'http', url: o.url }
        : {
            type: 'stdio',
            command: o.command,
            args: o.arg ?? [],
            env: pairs(o.env ?? [], '--env'),
            secretEnv: pairs(o.secretEnv ?? [], '--secret-env'),
            ...(o.cwd ? { cwd: o.cwd } : {}),
          };
      const auth = authOf(o);
      const limits = limitsOf(o);
      const created = await api.call<Server>('POST', '/api/v1/gateway/servers', {
        name,
        transport,
        ...(o.description ? { description: o.description } : {}),
        ...(auth ? { auth } : {}),
        ...(limits ? { limits } : {}),
      });
      warn(created.sync);
      printRecord(
        out,
        out.json
          ? created
          : {
              name: created.name,
              resource: created.resource,
              transport: created.transport.type,
              tools: created.tools.map((t) => t.name).join(', '),
            },
      );
    },
  );
  server
    .command('list')
    .description('list MCP servers')
    .action(async (_o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const page = await api.call<{ items: Server[] }>('GET', '/api/v1/gateway/servers');
      printPage(
        out,
        { items: page.items, nextCursor: null },
        ['name', 'transport', 'tools', 'resource'],
        (s) => ({
          name: s.name,
          transport: s.transport.type,
          tools: s.tools.length,
          resource: s.resource,
        }),
      );
    });
  server
    .command('show <name>')
    .description('show a server, its tools and their argument types')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(
        out,
        await api.call<Record<string, unknown>>('GET', `/api/v1/gateway/servers/${enc(name)}`),
      );
    });
  server
    .command('refresh <name>')
    .description("list the server's tools again (updates policy entities and the schema)")
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const refreshed = await api.call<Server>('POST', `/api/v1/gateway/servers/${enc(name)}/refresh`);
      warn(refreshed.sync);
      printRecord(
        out,
        out.json ? refreshed : { name: refreshed.name, tools: refreshed.tools.map((t) => t.name).join(', ') },
      );
    });
  server
    .command('remove <name>')
    .description('remove a server from the gateway')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      await api.call('DELETE', `/api/v1/gateway/servers/${enc(name)}`);
      printRecord(out, { removed: name });
    });

  const apis = gateway.command('api').description('HTTP APIs (`/gw/<name>/…`)');
  withAuthOptions(
    apis
      .command('add <name>')
      .description('register an HTTP API and its routes')
      .requiredOption('--base-url <url>', 'where the API is')
      .requiredOption(
        '--route <"METHOD /path/{param}">',
        'a route (repeat); `{rest*}` matches the rest of the path',
        collectList,
      )
      .option('--description <text>', 'what the API is'),
  ).action(
    async (
      name: string,
      o: AuthOptions & LimitOptions & { baseUrl: string; route: string[]; description?: string },
      cmd: Command,
    ) => {
      const { api, out } = contextOf(cmd);
      const routes = o.route.map((r) => {
        const match = /^([A-Za-z]+) +(\/\S*)$/.exec(r.trim());
        if (!match) throw new CliError(`--route must be "METHOD /path", got \`${r}\``);
        return { method: (match[1] as string).toUpperCase(), path: match[2] };
      });
      const auth = authOf(o);
      const limits = limitsOf(o);
      const created = await api.call<Api>('POST', '/api/v1/gateway/apis', {
        name,
        baseUrl: o.baseUrl,
        routes,
        ...(o.description ? { description: o.description } : {}),
        ...(auth ? { auth } : {}),
        ...(limits ? { limits } : {}),
      });
      warn(created.sync);
      printRecord(
        out,
        out.json
          ? created
          : {
              name: created.name,
              resource: created.resource,
              baseUrl: created.baseUrl,
              routes: created.routes.length,
            },
      );
    },
  );
  apis
    .command('list')
    .description('list HTTP APIs')
    .action(async (_o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const page = await api.call<{ items: Api[] }>('GET', '/api/v1/gateway/apis');
      printPage(
        out,
        { items: page.items, nextCursor: null },
        ['name', 'baseUrl', 'routes', 'resource'],
        (a) => ({
          name: a.name,
          baseUrl: a.baseUrl,
          routes: a.routes.length,
          resource: a.resource,
        }),
      );
    });
  apis
    .command('remove <name>')
    .description('remove an HTTP API from the gateway')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      await api.call('DELETE', `/api/v1/gateway/apis/${enc(name)}`);
      printRecord(out, { removed: name });
    });
  return gateway;
}
