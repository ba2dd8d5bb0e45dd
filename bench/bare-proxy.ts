/**
 * The floor of the gateway benchmark, in its own process: the simplest Node.js
 * reverse proxy in front of the benchmark's upstream (`http` server, keep-alive
 * `http.request`, bodies buffered, headers passed through), plus only the work
 * a call of that case cannot avoid, done the cheapest way:
 *
 * - a request with a `DPoP` header: its proof's ES256 signature is verified
 *   (node:crypto, synchronously, the key object cached per `jwk`), as every
 *   DPoP-bound call must be; a proof that does not verify is answered 401;
 * - with `--durable <file>`: one row is committed to SQLite (WAL,
 *   `synchronous=FULL`, one fsync) before the request is forwarded, as the
 *   `durable` audit mode commits its record before the upstream is called.
 *
 * It authenticates, decides and records nothing else, so what it adds over
 * calling the upstream directly is what a proxy hop plus that unavoidable work
 * costs on this machine; the rest of what the gateway adds is its own.
 *
 * Usage: node bench/bare-proxy.ts <port> <upstream port> [--durable <sqlite file>]   (also under tsx)
 */
import { verify } from 'node:crypto';
import http from 'node:http';
import Database from 'better-sqlite3';
import { proofKey } from './proof-keys.js';

const [portText, upstreamPortText, flag, file] = process.argv.slice(2);
const port = Number(portText);
const upstreamPort = Number(upstreamPortText);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
// the gateway's paths, mapped to the upstream's
const rewrite = (path: string) => path.replace(/^\/gw\/billing\//, '/api/').replace(/^\/mcp\/bench$/, '/mcp');

let record: ((id: number) => void) | null = null;
if (flag === '--durable') {
  if (!file) throw new Error('--durable needs a SQLite file');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)');
  const insert = db.prepare('INSERT INTO calls (id, at) VALUES (?, ?)');
  record = (id) => insert.run(id, Date.now());
}
let calls = 0;

/** Verifies a compact ES256 JWS signed by the key in its own `jwk` header (a DPoP proof's signature). */
function proofVerifies(proof: string): boolean {
  const [head, payload, signature] = proof.split('.');
  if (!head || !payload || !signature) return false;
  try {
    return verify(
      'sha256',
      Buffer.from(`${head}.${payload}`),
      { key: proofKey(proof).key, dsaEncoding: 'ieee-p1363' },
      Buffer.from(signature, 'base64url'),
    );
  } catch {
    return false;
  }
}

http
  .createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const proof = req.headers.dpop;
      if (typeof proof === 'string' && !proofVerifies(proof)) {
        res.writeHead(401, { 'content-length': '0' }).end();
        return;
      }
      record?.(++calls);
      const body = Buffer.concat(chunks);
      const headers = { ...req.headers, 'content-length': String(body.length) };
      delete headers.host;
      delete headers.connection;
      const out = http.request(
        {
          host: '127.0.0.1',
          port: upstreamPort,
          method: req.method,
          path: rewrite(req.url ?? '/'),
          agent,
          headers,
        },
        (upstream) => {
          const parts: Buffer[] = [];
          upstream.on('data', (c: Buffer) => parts.push(c));
          upstream.on('end', () => {
            const answer = Buffer.concat(parts);
            res.writeHead(upstream.statusCode ?? 502, {
              'content-type': upstream.headers['content-type'] ?? 'application/octet-stream',
              'content-length': answer.length,
            });
            res.end(answer);
          });
        },
      );
      out.on('error', () => res.writeHead(502).end());
      out.end(body);
    });
  })
  .listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
