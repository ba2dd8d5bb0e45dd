/**
 * Several writers, one chain: three Custos nodes on one PostgreSQL schema,
 * each with its own connection pool and group committer, take admin changes
 * (one transaction each) and token grants (group-committed batches) at the
 * same time. The log they leave has no fork and no gap: sequence numbers run
 * 1…n, every event links to its predecessor, and every success has its event.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import { readAllEvents, verifyChain } from '../src/audit/index.js';
import type { RunningServer } from '../src/http/index.js';
import {
  createAgent,
  postForm,
  signAssertion,
  startSecondNode,
  type TestAgent,
  tokenForm,
} from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

describe('several nodes appending to one chain (postgres)', { timeout: 180_000 }, () => {
  let t: TestServer;
  const nodes: RunningServer[] = [];
  let agent: TestAgent;
  before(async () => {
    t = await startTestServer('postgres');
    nodes.push(await startSecondNode(t), await startSecondNode(t));
    await t.api('POST', '/api/v1/users', { body: { email: 'owner@example.com', name: 'Owner' } });
    agent = await createAgent(t, 'owner@example.com', { scopes: ['read'] });
  });
  after(async () => {
    for (const node of nodes) await node.close();
    await t.close();
  });

  it('never forks and never leaves a gap under concurrent appends from every node', async () => {
    const urls = [t.url, ...nodes.map((n) => n.url)];
    const users: string[] = [];
    const jtis: string[] = [];
    await Promise.all(
      urls.flatMap((url, n) =>
        Array.from({ length: 6 }, async (_, w) => {
          for (let i = 0; i < 8; i++) {
            if ((w + i) % 2 === 0) {
              const response = await fetch(`${url}/api/v1/users`, {
                method: 'POST',
                headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
                body: JSON.stringify({ email: `n${n}-w${w}-${i}@example.com`, name: 'x' }),
              });
              assert.equal(response.status, 201);
              users.push(String(((await response.json()) as { id: string }).id));
            } else {
              // the issuer is the first node's URL, which every node shares
              const r = await postForm(
                `${url}/oauth/token`,
                tokenForm(agent.id, await signAssertion(t.url, agent)),
              );
              assert.equal(r.status, 200, JSON.stringify(r.body));
              jtis.push(String(jose.decodeJwt(String(r.body.access_token)).jti));
            }
          }
        }),
      ),
    );
    const store = t.server.store;
    const report = await verifyChain(readAllEvents(store));
    assert.equal(report.ok, true, JSON.stringify(report));
    const seqs: number[] = [];
    const created = new Set<string>();
    const issued = new Set<string>();
    for await (const e of readAllEvents(store)) {
      seqs.push(e.seq);
      if (e.action === 'user.create' && e.targetId) created.add(e.targetId);
      if (e.action === 'token.issue') issued.add(String(e.details.tokenId));
    }
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
      'sequence numbers run 1…n',
    );
    assert.equal((await store.auditLog.head()).seq, seqs.length);
    for (const id of users) assert.ok(created.has(id), `user ${id} has its event`);
    for (const jti of jtis) assert.ok(issued.has(jti), `token ${jti} has its event`);
    assert.equal(users.length + jtis.length, 3 * 6 * 8);
  });
});
