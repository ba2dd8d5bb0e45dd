/**
 * RFC 8693 token exchange throughput: an agent (private_key_jwt) exchanges a
 * person's ID token from a trusted identity provider for a delegated token
 * (`sub` = the person, `act` = the agent), against `custos serve` (SQLite,
 * durable group commit) in its own process, with the consent, the person's and
 * the agent's policies in place. The floor, measured in the same run, is the
 * raw node:crypto work an exchange cannot avoid: two ES256 verifies (the client
 * assertion and the subject token) and one ES256 sign (the new token).
 *
 * Run: npm run bench -- token-exchange   (env BENCH_GRANTS, BENCH_CONCURRENCY)
 */
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { benchAgent, clientAssertion, es256Floor, percentile, runLoad, startBenchServer } from './support.js';

const GRANTS = Number(process.env.BENCH_GRANTS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const IDP = 'https://login.bench.test';

async function main(): Promise<void> {
  const server = await startBenchServer();
  try {
    const audience = 'https://api.example.com';
    const person = await server.admin('POST', '/api/v1/users', { email: 'alice@example.com', name: 'Alice' });
    await server.admin('POST', '/api/v1/users', { email: 'owner@example.com', name: 'Owner' });
    const agent = await benchAgent(server, {
      owner: 'owner@example.com',
      allowedScopes: ['read'],
      allowedAudiences: [audience],
    });
    const idp = await generateKeyPair('ES256', { extractable: true });
    await server.admin('POST', '/api/v1/idps', {
      issuer: IDP,
      jwks: { keys: [{ ...(await exportJWK(idp.publicKey)), kid: 'idp-1' }] },
      audience: 'custos',
    });
    await server.admin('PUT', '/api/v1/policies', {
      reason: 'bench',
      policies: [
        {
          id: 'alice-delegates-read',
          text: `permit (principal == User::"${person.id}", action == Action::"token:exchange", resource == Scope::"read");`,
        },
        {
          id: 'agents-may-act',
          text: 'permit (principal is Agent, action == Action::"token:exchange", resource);',
        },
      ],
    });
    await server.admin('POST', '/api/v1/consents', {
      user: 'alice@example.com',
      agent: agent.id,
      scopes: ['read'],
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const subjectToken = await new SignJWT({ email: 'alice@example.com' })
      .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
      .setIssuer(IDP)
      .setSubject('alice')
      .setAudience('custos')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(idp.privateKey);

    async function prepare(n: number) {
      const now = Math.floor(Date.now() / 1000);
      const requests = [];
      for (let i = 0; i < n; i++) {
        const assertion = await clientAssertion(agent, server.url, now, 290);
        const body = new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          client_id: agent.id,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
          subject_token: subjectToken,
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          scope: 'read',
          resource: audience,
        }).toString();
        requests.push({
          path: '/oauth/token',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        });
      }
      return requests;
    }

    const f = es256Floor();
    await runLoad(server.url, await prepare(300), CONCURRENCY); // warm-up
    const requests = await prepare(GRANTS);
    const cpuBefore = server.cpuMicros();
    const result = await runLoad(server.url, requests, CONCURRENCY);
    if (result.failed > 0) throw new Error(`${result.failed} exchanges failed; first: ${result.firstError}`);
    const serverCpu = (server.cpuMicros() - cpuBefore) / result.ok;
    const rate = result.ok / result.seconds;
    const floorUs = f.signUs + 2 * f.verifyUs;
    const floorRate = 1e6 / floorUs;
    process.stdout.write(
      [
        `token exchange: ${GRANTS} exchanges, ${CONCURRENCY} concurrent connections, custos serve on SQLite (synchronous=FULL, group commit)`,
        `floor: raw node:crypto ES256 sign ${f.signUs.toFixed(1)} µs + 2 × verify ${f.verifyUs.toFixed(1)} µs (one core)`,
        '',
        '| grant | exchanges/s | p50 ms | p99 ms | floor/s | ratio to floor | server CPU µs/exchange | floor µs |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        `| token exchange (ID token → delegated token) | ${rate.toFixed(0)} | ${percentile(result.latenciesMs, 50).toFixed(2)} | ${percentile(result.latenciesMs, 99).toFixed(2)} | ${floorRate.toFixed(0)} | **${(rate / floorRate).toFixed(2)}×** | ${serverCpu.toFixed(0)} | ${floorUs.toFixed(0)} |`,
        '',
      ].join('\n'),
    );
  } finally {
    await server.stop();
  }
}

await main();
