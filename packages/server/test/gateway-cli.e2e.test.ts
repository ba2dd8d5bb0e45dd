import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FILESYSTEM_BIN } from './support/mcp-upstreams.js';
import { startTestServer, type TestServer } from './support/server.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The built `custos` command against the test server. */
function custos(t: TestServer, args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', CUSTOS_URL: t.url, CUSTOS_TOKEN: t.adminToken },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('custos gateway (CLI, sqlite)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('sqlite');
    assert.equal(
      (await t.api('PUT', '/api/v1/secrets/billing-token', { body: { value: 'not-shown-anywhere' } })).status,
      200,
    );
  });
  after(() => t.close());

  it('adds, lists, shows and removes a stdio MCP server', async () => {
    const added = await custos(t, [
      '--json',
      'gateway',
      'server',
      'add',
      'files',
      '--command',
      process.execPath,
      '--arg',
      FILESYSTEM_BIN,
      '--arg',
      '/tmp',
    ]);
    assert.equal(added.code, 0, added.stderr);
    const server = JSON.parse(added.stdout) as { resource: string; tools: { name: string }[] };
    assert.equal(server.resource, `${t.config.issuer}/mcp/files`);
    assert.ok(server.tools.some((tool) => tool.name === 'read_text_file'));
    const listed = await custos(t, ['gateway', 'server', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /files\s+stdio\s+\d+/);
    const shown = await custos(t, ['--json', 'gateway', 'server', 'show', 'files']);
    assert.match(shown.stdout, /Tool::\\"files\/read_text_file\\"/);
    assert.equal((await custos(t, ['gateway', 'server', 'remove', 'files'])).code, 0);
    const gone = await custos(t, ['gateway', 'server', 'show', 'files']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /unknown MCP server `files`/);
  });

  it('adds and removes an HTTP API, and refuses bad input in one line', async () => {
    const added = await custos(t, [
      'gateway',
      'api',
      'add',
      'billing',
      '--base-url',
      'http://127.0.0.1:9/v1',
      '--route',
      'GET /invoices/{id}',
      '--route',
      'POST /invoices',
      '--bearer-secret',
      'billing-token',
      '--tool-rate',
      '2/5',
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /resource:\s+http:\/\/127\.0\.0\.1:\d+\/gw\/billing/);
    const listed = await custos(t, ['--json', 'gateway', 'api', 'list']);
    const items = (JSON.parse(listed.stdout) as { items: { name: string; limits: unknown; auth: unknown }[] })
      .items;
    assert.deepEqual(items[0]?.limits, { perTool: { rate: 2, burst: 5 } });
    assert.deepEqual(items[0]?.auth, { type: 'bearer', secret: 'billing-token' });
    const unknownSecret = await custos(t, [
      'gateway',
      'api',
      'add',
      'x',
      '--base-url',
      'http://127.0.0.1:9',
      '--route',
      'GET /',
      '--bearer-secret',
      'nope',
    ]);
    assert.equal(unknownSecret.code, 1);
    assert.match(unknownSecret.stderr, /unknown secret `nope`/);
    const badRoute = await custos(t, [
      'gateway',
      'api',
      'add',
      'y',
      '--base-url',
      'http://127.0.0.1:9',
      '--route',
      'GET /a/{x*}/b',
    ]);
    assert.equal(badRoute.code, 1);
    assert.match(badRoute.stderr, /must be the last segment/);
    assert.equal((await custos(t, ['gateway', 'api', 'remove', 'billing'])).code, 0);
  });
});
