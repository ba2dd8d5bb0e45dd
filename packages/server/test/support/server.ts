import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../src/config/index.js';
import { type RunningServer, startServer } from '../../src/http/index.js';
import { generateAdminToken } from '../../src/identity/index.js';
import { createTestDatabase, type Dialect } from './databases.js';

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface TestServer {
  readonly url: string;
  /** The bootstrap admin token. */
  readonly adminToken: string;
  readonly server: RunningServer;
  readonly config: Config;
  /** `fetch` against the server with JSON in and out; `token: null` sends no Authorization header. */
  api(
    method: string,
    path: string,
    options?: { body?: unknown; rawBody?: string; token?: string | null; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Headers; body: Record<string, unknown> & { items?: unknown[] } }>;
  close(): Promise<void>;
}

/**
 * A real Custos server on a loopback port, over a fresh database of the dialect
 * (temporary SQLite file, or its own PostgreSQL schema), with a known admin token.
 */
export async function startTestServer(
  dialect: Dialect,
  overrides: Partial<Config> = {},
): Promise<TestServer> {
  const db = await createTestDatabase(dialect);
  const dataDir = await mkdtemp(join(tmpdir(), 'custos-data-'));
  const adminToken = generateAdminToken();
  const loaded = loadConfig({
    env: { CUSTOS_BOOTSTRAP_TOKEN: adminToken },
    flags: { dataDir, databaseUrl: db.url, logLevel: 'silent' },
    cwd: dataDir,
  });
  // The issuer must be the real base URL (OAuth clients check it), so pick a free port first.
  const port = await freePort();
  const config: Config = Object.freeze({ ...loaded, port, issuer: `http://127.0.0.1:${port}`, ...overrides });
  const server = await startServer(config);
  const url = server.url;
  return {
    url,
    adminToken,
    server,
    config,
    async api(method, path, options = {}) {
      const token = options.token === undefined ? adminToken : options.token;
      const headers: Record<string, string> = { ...options.headers };
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined = options.rawBody;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      } else if (body !== undefined) headers['content-type'] ??= 'application/json';
      const response = await fetch(`${url}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
      });
      const text = await response.text();
      let parsed: Record<string, unknown> = {};
      if (text && /json/.test(response.headers.get('content-type') ?? '')) parsed = JSON.parse(text);
      else if (text) parsed = { text };
      return { status: response.status, headers: response.headers, body: parsed };
    },
    async close() {
      await server.close();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
