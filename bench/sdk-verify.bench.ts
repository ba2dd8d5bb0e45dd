/**
 * Resource-server token verification in @custos/sdk (`verifyAccessToken`, a
 * Bearer RFC 9068 token, JWKS cached) against the floor measured in the same
 * run: one raw node:crypto ES256 verify of the same token's signature (split,
 * base64url-decode, verify; no claim checks).
 * Every call verifies a different token, so no result is served from a cache.
 *
 * Run: npm run bench -- sdk-verify
 */
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyAccessToken } from '../packages/sdk/src/index.js';
import { microsPerCall } from './support.js';

const N = Number(process.env.BENCH_VERIFICATIONS ?? 5000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function main(): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' };
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url === '/jwks' ? { keys: [jwk] } : {}));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = base;
  const audience = 'https://api.example.com';
  const now = Math.floor(Date.now() / 1000);
  const tokens = Array.from({ length: N + 200 }, () => {
    const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })}.${b64({
      iss: issuer,
      sub: 'agt_bench',
      aud: audience,
      exp: now + 600,
      iat: now,
      jti: randomBytes(16).toString('base64url'),
      client_id: 'agt_bench',
      scope: 'read',
    })}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  });
  const options = { issuer, audience, jwksUri: `${base}/jwks` };
  const request = (token: string) => ({
    method: 'GET',
    url: `${audience}/x`,
    headers: { authorization: `Bearer ${token}` },
  });
  for (const token of tokens.slice(N)) await verifyAccessToken(request(token), options); // warm-up, JWKS fetched once

  // The floor verifies each token's own signature: split, base64url-decode, node:crypto verify.
  const rawVerify = (token: string) => {
    const dot = token.lastIndexOf('.');
    const data = Buffer.from(token.slice(0, dot));
    if (
      !verify(
        'sha256',
        data,
        { key: publicKey, dsaEncoding: 'ieee-p1363' },
        Buffer.from(token.slice(dot + 1), 'base64url'),
      )
    ) {
      throw new Error('floor: signature did not verify');
    }
  };
  // Interleaved rounds, so both sides see the same machine load; the median round counts.
  const ROUNDS = 7;
  const per = Math.floor(N / ROUNDS);
  const raws: number[] = [];
  const sdks: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const batch = tokens.slice(round * per, (round + 1) * per);
    let i = 0;
    raws.push(microsPerCall(per, () => rawVerify(batch[i++ % per] as string)));
    const start = process.hrtime.bigint();
    for (const token of batch) await verifyAccessToken(request(token), options);
    sdks.push(Number(process.hrtime.bigint() - start) / 1000 / per);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const ratios = sdks.map((v, i) => v / (raws[i] as number));
  const rawUs = median(raws);
  const sdkUs = median(sdks);
  server.close();
  process.stdout.write(
    [
      `token verification: ${N} distinct Bearer tokens, sequential, JWKS cached; median of ${ROUNDS} interleaved rounds`,
      '',
      '| path | µs per token | ratio to floor |',
      '| --- | ---: | ---: |',
      `| raw node:crypto ES256 verify (floor) | ${rawUs.toFixed(1)} | 1.00× |`,
      `| @custos/sdk verifyAccessToken | ${sdkUs.toFixed(1)} | **${median(ratios).toFixed(2)}×** |`,
      '',
    ].join('\n'),
  );
}

await main();
