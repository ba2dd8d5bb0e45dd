/**
 * A second floor for the token-grant benchmark, in its own process: the least
 * any token server does per grant on this machine. It reads the POST, parses
 * the form, verifies the client assertion's ES256 signature with the agent's
 * public key (and a DPoP proof's with the key in its header, when there is
 * one), signs an access token and answers JSON, the signatures on libuv's
 * thread pool as Custos does them. It checks no claim, remembers no `jti`,
 * decides and records nothing: what Custos does beyond it is its own cost.
 *
 * Usage: node bench/bare-token-server.ts <port> <the agent's public JWK as JSON>   (also under tsx)
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import http from 'node:http';

const [portText, jwkText] = process.argv.slice(2);
const assertionKey = createPublicKey({ key: JSON.parse(jwkText ?? '{}'), format: 'jwk' });
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const proofKeys = new Map<string, KeyObject>();

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

function proofKey(proof: string): KeyObject {
  const head = proof.slice(0, proof.indexOf('.'));
  let key = proofKeys.get(head);
  if (!key) {
    const header = JSON.parse(Buffer.from(head, 'base64url').toString()) as { jwk: object };
    key = createPublicKey({ key: header.jwk, format: 'jwk' } as Parameters<typeof createPublicKey>[0]);
    proofKeys.set(head, key);
  }
  return key;
}

async function grant(body: string, proof: string | undefined): Promise<string | null> {
  const form = new URLSearchParams(body);
  const assertion = form.get('client_assertion') ?? '';
  const checks = [verifies(assertion, assertionKey)];
  if (proof) checks.push(verifies(proof, proofKey(proof)));
  if (!(await Promise.all(checks)).every(Boolean)) return null;
  const now = Math.floor(Date.now() / 1000);
  const input = `${Buffer.from('{"alg":"ES256","typ":"at+jwt"}').toString('base64url')}.${Buffer.from(
    JSON.stringify({ sub: form.get('client_id'), scope: form.get('scope'), iat: now, exp: now + 300 }),
  ).toString('base64url')}`;
  const signature = await new Promise<Buffer>((resolve, reject) =>
    sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }, (error, s) =>
      error ? reject(error) : resolve(s),
    ),
  );
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
