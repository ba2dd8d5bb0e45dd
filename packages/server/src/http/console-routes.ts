import type { FastifyInstance, FastifyReply } from 'fastify';
import { type ConsoleAsset, type ConsoleAssets, loadConsoleAssets } from '../console/index.js';

/**
 * No inline script or style, nothing from elsewhere: the console is same-origin
 * files only, and talks to nothing but this server.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Custos console not built</title></head>
<body><h1>The Custos console is not built</h1>
<p>This server found no console files. Build them with <code>npm run build</code> at the repository root
(or <code>npm run build -w packages/console</code>), then reload this page. The admin API at
<code>/api/v1/</code> works without the console.</p></body></html>
`;

function send(reply: FastifyReply, asset: ConsoleAsset) {
  return reply
    .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .type(asset.type)
    .send(asset.body);
}

/**
 * Serves the built console at `/console/`: hashed files under `/console/assets/`
 * with immutable caching, `index.html` for every other path (client-side
 * routes), all with a strict Content-Security-Policy. When the console is not
 * built, `/console/` answers 503 with a page saying how to build it.
 */
export function registerConsoleRoutes(
  app: FastifyInstance,
  assets: ConsoleAssets = loadConsoleAssets(),
): void {
  app.get('/console', async (_request, reply) => reply.redirect('/console/', 308));
  app.get('/console/*', async (request, reply) => {
    reply
      .header('content-security-policy', CONSOLE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer')
      .header('cross-origin-opener-policy', 'same-origin');
    const path = (request.params as { '*'?: string })['*'] ?? '';
    const file = path === '' ? null : await assets.get(path);
    if (file) return send(reply, file);
    // a missing file (a stale hashed name, a typo) is a 404, not the app's page
    if (/\.[a-z0-9]+$/i.test(path)) {
      return reply.status(404).type('text/plain; charset=utf-8').send(`no console file \`${path}\`\n`);
    }
    const index = await assets.index();
    if (!index)
      return reply.status(503).header('cache-control', 'no-store').type('text/html').send(NOT_BUILT);
    return send(reply, index);
  });
}
