import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Command } from 'commander';
import { loadConfig } from '../../config/index.js';

// The server stack (HTTP framework, database drivers) is imported only by the
// commands that run it, so client commands start fast.

/** Flags shared by the server-side commands; they override file and environment. */
function withServerOptions(command: Command): Command {
  return command
    .option('--config <file>', 'YAML config file (default: ./custos.yaml when present)')
    .option('--host <host>', 'interface to listen on')
    .option('--port <port>', 'TCP port')
    .option('--data-dir <dir>', 'data directory (SQLite database, master key)')
    .option('--database-url <url>', 'sqlite:<path> or postgres://…')
    .option('--issuer <url>', 'public base URL')
    .option('--log-level <level>', 'fatal | error | warn | info | debug | trace | silent');
}

function banner(lines: readonly string[]): void {
  process.stderr.write(`\n${lines.map((l) => `  ${l}`).join('\n')}\n\n`);
}

export function serveCommand(): Command {
  return withServerOptions(new Command('serve').description('run the Custos server')).action(
    async (flags: Record<string, unknown>) => {
      const config = loadConfig({ flags });
      // Everything the server writes (database, WAL, key files) is for its own user only.
      process.umask(0o077);
      const { startServer, VERSION } = await import('../../http/index.js');
      const server = await startServer(config);
      const lines = [
        `Custos ${VERSION} is listening on ${server.url}`,
        `console     ${server.url}/console/   (sign in with an admin token or a console account)`,
        `admin API   ${server.url}/api/v1   (OpenAPI 3.1: ${server.url}/api/v1/openapi.json)`,
        `operations  ${server.url}/healthz  /readyz  /metrics`,
        `database    ${config.databaseUrl.replace(/\/\/[^@/]*@/, '//***@')}`,
      ];
      if (server.bootstrap?.generated) {
        lines.push(
          '',
          'First start: an admin token was generated. It is shown only this once; store it now:',
          `  ${server.bootstrap.token}`,
          '',
          'Use it with the CLI:',
          `  export CUSTOS_URL=${server.url}`,
          `  export CUSTOS_TOKEN=${server.bootstrap.token}`,
          '  custos agent list',
        );
      } else if (server.bootstrap) {
        lines.push('', 'First start: CUSTOS_BOOTSTRAP_TOKEN was registered as an admin token.');
      } else {
        lines.push('', 'Authenticate with an admin token: export CUSTOS_URL and CUSTOS_TOKEN (cst_pat_…).');
      }
      banner(lines);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        server.app.log.info({ signal }, 'shutting down: finishing in-flight requests');
        server.close().then(
          () => process.exit(0),
          (error: unknown) => {
            server.app.log.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    },
  );
}

export function migrateCommand(): Command {
  return withServerOptions(
    new Command('migrate').description('apply pending database migrations (the server also does at start)'),
  ).action(async (flags: Record<string, unknown>) => {
    const config = loadConfig({ flags });
    if (config.databaseUrl.startsWith('sqlite:')) {
      mkdirSync(dirname(config.databaseUrl.slice('sqlite:'.length)), { recursive: true, mode: 0o700 });
    }
    const { migrateDatabase } = await import('../../storage/index.js');
    const { from, to } = await migrateDatabase(config.databaseUrl, Date.now());
    process.stdout.write(
      from === to ? `database is current (version ${to})\n` : `migrated from version ${from} to ${to}\n`,
    );
  });
}
