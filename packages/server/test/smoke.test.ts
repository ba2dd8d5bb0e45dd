import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

for (const dialect of DIALECTS) {
  describe(`smoke (${dialect})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(dialect);
    });
    after(() => t.close());
    it('creates a user and an agent', async () => {
      const u = await t.api('POST', '/api/v1/users', { body: { email: 'a@x.io', name: 'A' } });
      assert.equal(u.status, 201, JSON.stringify(u.body));
      const a = await t.api('POST', '/api/v1/agents', {
        body: { name: 'bot', owner: 'a@x.io', tags: { env: 'p' } },
      });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      const l = await t.api('GET', '/api/v1/agents?tag=env=p&q=bo');
      assert.equal(l.body.items?.length, 1, JSON.stringify(l.body));
      const s = await t.api('POST', `/api/v1/agents/${a.body.id}/suspend`, { body: { reason: 'x' } });
      assert.equal(s.status, 200, JSON.stringify(s.body));
    });
  });
}
