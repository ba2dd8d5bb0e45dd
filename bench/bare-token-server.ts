/**
 * A second floor for the token-grant benchmark, in its own process: the least
 * any token server does per grant on this machine. It reads the POST, parses
 * the form, verifies the client assertion's ES256 signature with the agent's
 * public key (and a DPoP proof's with the key in its header, when there is
 * one), signs an access token and answers JSON, the signatures on libuv's
 * thread pool as Custos does them. It checks no claim, remembers no `jti`,
 * decides and records nothing: what Custos does beyond it is its own cost.
 *
 * With `--durable <file>` it also does, the cheapest way, what a token server
 * that refuses replays across processes and keeps a record of every token
 * cannot avoid: before answering, it commits to SQLite (WAL,
 * `synchronous=FULL`) the single-use claim of the assertion's `jti` (and of
 * the DPoP proof's), refusing a `jti` already claimed, and one row recording
 * the issued token. Grants that arrive together share one commit (group
 * commit on the event loop: no thread hand-off). It checks no other claim,
 * decides nothing and chains no audit hash.
 *
 * Usage: node bench/bare-token-server.ts <port> <the agent's public JWK as JSON> [--durable <sqlite file>]   (also under tsx)
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, sign, verify } from 'node:crypto';
import http from 'node:http';
import Database from 'better-sqlite3';
import { proofKey } from './proof-keys.js';

const [portText, jwkText, flag, file] = process.argv.slice(2);
const assertionKey = createPublicKey({ key: JSON.parse(jwkText ?? '{}'), format: 'jwk' });
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** Verifies a compact ES256 JWS on the thread pool. */
function verifies(jws: string, key: KeyObject): Promise<boolean> {
  const dot = jws.lastIndexOf('.');
  return new Promise((resolve) => {
    try {
      verify(
        'sha256',
        Buffer.from(jws.slice(0, dot)),
        { key, dsaEncoding: 'ieee-p1363' },
        Buffer.from(jws.slice(dot + 1), 'base64url'),
        (error, ok) => resolve(!error && ok),
      );
    } catch {
      resolve(false);
    }
  });
}

/** A grant waiting for the next group commit: its rows, and what to do once they are durable. */
interface Pending {
  readonly claims: ReadonlyArray<readonly [string, string]>;
  readonly token: readonly [string, string, number, string];
  readonly done: (committed: boolean) => void;
}

/** Commits the claims and token rows of every grant queued since the last commit, in one transaction. */
let commit: ((claims: Pending['claims'], token: Pending['token']) => Promise<boolean>) | null = null;
if (flag === '--durable') {
  if (!file) throw new Error('--durable needs a SQLite file');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // no checkpoint on commit (Custos checkpoints on a thread of its own): the WAL just grows
  db.pragma('wal_autocheckpoint = 0');
  db.exec(`CREATE TABLE IF NOT EXISTS used_jtis (scope TEXT NOT NULL, jti TEXT NOT NULL, expires_at INTEGER NOT NULL,
             PRIMARY KEY (scope, jti)) WITHOUT ROWID;
           CREATE TABLE IF NOT EXISTS issued_tokens (jti TEXT PRIMARY KEY, client_id TEXT NOT NULL,
             expires_at INTEGER NOT NULL, record TEXT NOT NULL)`);
  const claim = db.prepare('INSERT OR IGNORE INTO used_jtis (scope, jti, expires_at) VALUES (?, ?, ?)');
  const issue = db.prepare(
    'INSERT INTO issued_tokens (jti, client_id, expires_at, record) VALUES (?, ?, ?, ?)',
  );
  const savepoint = db.prepare('SAVEPOINT grant');
  const rollback = db.prepare('ROLLBACK TO grant');
  const release = db.prepare('RELEASE grant');
  let queue: Pending[] = [];
  const flush = () => {
    const batch = queue;
    queue = [];
    const results: boolean[] = [];
    db.exec('BEGIN IMMEDIATE');
    for (const p of batch) {
      savepoint.run();
      const fresh = p.claims.every(([scope, jti]) => claim.run(scope, jti, p.token[2]).changes === 1);
      if (fresh) issue.run(...p.token);
      else rollback.run();
      release.run();
      results.push(fresh);
    }
    db.exec('COMMIT');
    for (const [i, p] of batch.entries()) p.done(results[i] === true);
  };
  commit = (claims, token) =>
    new Promise((resolve) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ claims, token, done: resolve });
    });
}

const jtiOf = (jws: string): string =>
  (JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString()) as { jti?: string }).jti ?? '';

async function grant(body: string, proof: string | undefined): Promise<string | null> {
  const form = new URLSearchParams(body);
  const assertion = form.get('client_assertion') ?? '';
  const checks = [verifies(assertion, assertionKey)];
  if (proof) checks.push(verifies(proof, proofKey(proof).key));
  if (!(await Promise.all(checks)).every(Boolean)) return null;
  const now = Math.floor(Date.now() / 1000);
  const jti = randomBytes(16).toString('base64url');
  const input = `${Buffer.from('{"alg":"ES256","typ":"at+jwt"}').toString('base64url')}.${Buffer.from(
    JSON.stringify({ sub: form.get('client_id'), scope: form.get('scope'), iat: now, exp: now + 300, jti }),
  ).toString('base64url')}`;
  const signature = await new Promise<Buffer>((resolve, reject) =>
    sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }, (error, s) =>
      error ? reject(error) : resolve(s),
    ),
  );
  if (commit) {
    const clientId = form.get('client_id') ?? '';
    const claims: Array<[string, string]> = [[`assertion:${clientId}`, jtiOf(assertion)]];
    if (proof) claims.push([`dpop:${proofKey(proof).jkt}`, jtiOf(proof)]);
    const record = JSON.stringify({ client: clientId, scope: form.get('scope'), dpop: proof !== undefined });
    if (!(await commit(claims, [jti, clientId, (now + 300) * 1000, record]))) return null;
  }
  return JSON.stringify({
    access_token: `${input}.${signature.toString('base64url')}`,
    token_type: proof ? 'DPoP' : 'Bearer',
    expires_in: 300,
  });
}

http
  .createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const proof = req.headers.dpop;
      grant(Buffer.concat(chunks).toString(), typeof proof === 'string' ? proof : undefined).then(
        (answer) => {
          if (answer === null) {
            res.writeHead(401, { 'content-length': '0' }).end();
            return;
          }
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(answer),
          });
          res.end(answer);
        },
        () => res.writeHead(500, { 'content-length': '0' }).end(),
      );
    });
  })
  .listen(Number(portText), '127.0.0.1', () => process.stdout.write('ready\n'));
