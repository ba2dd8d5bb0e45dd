import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { masterKeyFrom, revealSecret, rewrapAll, sealedWith, setSecret } from '../src/secrets/index.js';
import { DIALECTS } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

const SECRET = `sk_live_${randomBytes(24).toString('hex')}`;

/** The value in every form it could leak in. */
const forms = (value: string) => [
  value,
  Buffer.from(value).toString('base64'),
  Buffer.from(value).toString('base64url'),
  Buffer.from(value).toString('hex'),
  encodeURIComponent(value),
];

for (const dialect of DIALECTS) {
  describe(`vault (${dialect})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(dialect);
    });
    after(() => t.close());

    it('stores a value write-only: no answer, list, row or audit event contains it', async () => {
      const put = await t.api('PUT', '/api/v1/secrets/github%2Ftoken', {
        body: { value: SECRET, description: 'CI bot' },
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.equal(put.body.version, 1);
      assert.equal(put.body.value, undefined);
      const listed = await t.api('GET', '/api/v1/secrets');
      const read = await t.api('GET', '/api/v1/secrets/github%2Ftoken');
      const stored = await t.server.store.secrets.list();
      const audit = await t.server.store.audit.list({ limit: 500 });
      for (const haystack of [listed.body, read.body, put.body, stored, audit.items].map((x) =>
        JSON.stringify(x),
      )) {
        for (const form of forms(SECRET)) assert.ok(!haystack.includes(form), 'the secret leaked');
      }
      const deps = { store: t.server.store, clock: { now: Date.now }, master: t.server.master };
      assert.equal(await revealSecret(deps, 'github/token'), SECRET);
    });

    it('rotates with a new data key and version, and refuses bad input', async () => {
      const before = await t.server.store.secrets.get('github/token');
      const rotated = await t.api('POST', '/api/v1/secrets/github%2Ftoken/rotate', {
        body: { value: `${SECRET}-2` },
      });
      assert.equal(rotated.body.version, 2);
      const after = await t.server.store.secrets.get('github/token');
      assert.notEqual(after?.dataKey, before?.dataKey);
      const deps = { store: t.server.store, clock: { now: Date.now }, master: t.server.master };
      assert.equal(await revealSecret(deps, 'github/token'), `${SECRET}-2`);
      const missing = await t.api('POST', '/api/v1/secrets/nope/rotate', { body: { value: 'x' } });
      assert.equal(missing.status, 404);
      const empty = await t.api('PUT', '/api/v1/secrets/empty', { body: { value: '' } });
      assert.equal(empty.status, 400);
      const badName = await t.api('PUT', '/api/v1/secrets/Bad%20Name', { body: { value: 'x' } });
      assert.equal(badName.status, 400);
      const extra = await t.api('PUT', '/api/v1/secrets/x', { body: { value: 'x', colour: 'red' } });
      assert.equal(extra.status, 400);
      assert.equal(await t.server.store.secrets.get('x'), null);
    });

    it('fails closed when the stored ciphertext, IV, tag or data key is tampered with', async () => {
      await t.api('PUT', '/api/v1/secrets/tamper', { body: { value: SECRET } });
      const original = await t.server.store.secrets.get('tamper');
      assert.ok(original);
      const deps = { store: t.server.store, clock: { now: Date.now }, master: t.server.master };
      const flip = (sealed: string, part: number) => {
        const parts = sealed.split('.');
        const bytes = Buffer.from(parts[part] as string, 'base64url');
        bytes[0] = (bytes[0] as number) ^ 1;
        parts[part] = bytes.toString('base64url');
        return parts.join('.');
      };
      for (const [field, part] of [
        ['value', 2],
        ['value', 3],
        ['value', 4],
        ['dataKey', 2],
        ['dataKey', 3],
        ['dataKey', 4],
      ] as const) {
        await t.server.store.secrets.put({ ...original, [field]: flip(original[field], part) });
        await assert.rejects(revealSecret(deps, 'tamper'), /failed authentication/, `${field} part ${part}`);
      }
      await t.server.store.secrets.put(original);
      assert.equal(await revealSecret(deps, 'tamper'), SECRET);
    });

    it('rotates the master key without downtime: old and new both unseal, then re-wrap moves everything', async () => {
      const oldMaster = t.server.master;
      const next = masterKeyFrom(randomBytes(32), [oldMaster.key]);
      const deps = { store: t.server.store, clock: { now: Date.now }, master: next };
      // during the rotation, values sealed under the old key still open
      assert.equal(await revealSecret(deps, 'tamper'), SECRET);
      await setSecret(deps, SYSTEM_ACTOR, { name: 'after-rotation', value: 'fresh' });
      const counts = await rewrapAll(deps, SYSTEM_ACTOR);
      assert.ok(
        counts.secrets >= 2 && counts.signingKeys >= 2 && counts.auditKeys >= 1,
        JSON.stringify(counts),
      );
      for (const s of await t.server.store.secrets.list()) assert.equal(sealedWith(s.dataKey), next.id);
      for (const k of await t.server.store.signingKeys.list())
        assert.equal(sealedWith(k.privateKey), next.id);
      // after the re-wrap the old key is no longer needed
      const onlyNew = { ...deps, master: masterKeyFrom(next.key) };
      assert.equal(await revealSecret(onlyNew, 'tamper'), SECRET);
      assert.equal(await revealSecret(onlyNew, 'after-rotation'), 'fresh');
      assert.deepEqual(await rewrapAll(onlyNew, SYSTEM_ACTOR), { secrets: 0, signingKeys: 0, auditKeys: 0 });
    });

    it('lets only admins write, and never owners read', async () => {
      const auditor = String(
        (await t.api('POST', '/api/v1/tokens', { body: { name: 'a', role: 'auditor' } })).body.token,
      );
      const put = await t.api('PUT', '/api/v1/secrets/by-auditor', { token: auditor, body: { value: 'x' } });
      assert.equal(put.status, 403);
      assert.equal(await t.server.store.secrets.get('by-auditor'), null);
      const del = await t.api('DELETE', '/api/v1/secrets/tamper', { token: auditor });
      assert.equal(del.status, 403);
      assert.equal((await t.api('DELETE', '/api/v1/secrets/tamper')).status, 204);
      assert.equal((await t.api('DELETE', '/api/v1/secrets/tamper')).status, 404);
    });
  });
}
