import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { loadConsoleAssets } from '../console/index.js';
import { registerConsoleRoutes } from './console-routes.js';

describe('console static files', () => {
  let dir: string;
  let app: FastifyInstance;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custos-console-'));
    app = Fastify();
    registerConsoleRoutes(app, loadConsoleAssets(dir));
    await app.ready();
  });
  after(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers a clear 503 page while the console is not built', async () => {
    const res = await app.inject({ url: '/console/' });
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /not built/);
    assert.match(res.body, /npm run build/);
  });

  it('serves index.html for client routes and hashed assets for good, once built (no restart)', async () => {
    await mkdir(join(dir, 'assets'));
    await writeFile(
      join(dir, 'index.html'),
      '<!doctype html><script type="module" src="/console/assets/a-1.js"></script>',
    );
    await writeFile(join(dir, 'assets', 'a-1.js'), 'console.log(1)');
    await writeFile(join(dir, 'secret.key'), 'not served: unknown kind of file');
    const page = await app.inject({ url: '/console/agents/agt_x' });
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    const js = await app.inject({ url: '/console/assets/a-1.js' });
    assert.equal(js.statusCode, 200);
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.equal((await app.inject({ url: '/console/secret.key' })).statusCode, 404);
    assert.equal((await app.inject({ url: '/console/../package.json' })).statusCode, 404);
    assert.equal((await app.inject({ url: '/console/assets/%2e%2e/%2e%2e/index.html' })).statusCode, 404);
    const redirect = await app.inject({ url: '/console' });
    assert.equal(redirect.statusCode, 308);
    assert.equal(redirect.headers.location, '/console/');
  });
});
