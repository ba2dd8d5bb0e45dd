#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/index.js';
import { CliError } from './api-client.js';
import { agentCommand } from './commands/agent.js';
import { approvalCommand } from './commands/approval.js';
import { auditCommand } from './commands/audit.js';
import { consentCommand, idpCommand } from './commands/delegation.js';
import { entityCommand } from './commands/entity.js';
import { federationCommand } from './commands/federation.js';
import { findingCommand, monitorCommand } from './commands/finding.js';
import { gatewayCommand } from './commands/gateway.js';
import { grantCommand } from './commands/grant.js';
import { keysCommand } from './commands/keys.js';
import { policyCommand } from './commands/policy.js';
import { schemaCommand } from './commands/schema.js';
import { secretCommand } from './commands/secret.js';
import { migrateCommand, serveCommand } from './commands/serve.js';
import { teamCommand } from './commands/team.js';
import { tokenCommand } from './commands/token.js';
import { userCommand } from './commands/user.js';

// Read here rather than imported from http/: client commands must not load the server stack.
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const program = new Command('custos')
  .description('Custos: identity governance for AI agents')
  .version(VERSION)
  .option('--url <url>', 'Custos base URL (env CUSTOS_URL, default http://127.0.0.1:8080)')
  .option('--token <token>', 'admin token cst_pat_… (env CUSTOS_TOKEN)')
  .option('--json', 'print JSON for scripts instead of tables')
  .showSuggestionAfterError()
  .exitOverride();

for (const command of [
  serveCommand(),
  migrateCommand(),
  userCommand(),
  teamCommand(),
  agentCommand(),
  tokenCommand(),
  keysCommand(),
  auditCommand(),
  federationCommand(),
  secretCommand(),
  findingCommand(),
  monitorCommand(),
  gatewayCommand(),
  policyCommand(),
  grantCommand(),
  schemaCommand(),
  entityCommand(),
  idpCommand(),
  consentCommand(),
  approvalCommand(),
]) {
  program.addCommand(command);
}

function fail(message: string, code: number): never {
  process.stderr.write(`custos: ${message}\n`);
  process.exit(code);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // help and version are "errors" that exit 0; commander already printed the message
    process.exit(error.exitCode);
  }
  if (error instanceof CliError) fail(error.message, error.exitCode);
  if (error instanceof ConfigError) fail(error.message, 2);
  fail(error instanceof Error ? error.message : String(error), 1);
}
