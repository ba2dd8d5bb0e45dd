import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { chainHash, GENESIS_HASH, link } from '../storage/audit-chain.js';
import type { AuditEventInput, AuditEventRecord } from '../storage/index.js';
import { type AuditEventView, fromAuditView, parseAuditView, toAuditView } from './event-view.js';
import { apiActivity, csvField, csvHeader, toCsvRow, toJsonLine, toOcsf } from './export-formats.js';

function recorded(e: AuditEventInput, seq = 1): AuditEventRecord {
  const linked = link({ seq: seq - 1, hash: GENESIS_HASH }, e);
  return { ...e, seq, prevHash: linked.prevHash, hash: linked.hash };
}

const base: AuditEventInput = {
  id: 'evt_01kb2z3x4y5w6v7u8t9s0r1q2p',
  at: Date.UTC(2026, 5, 1, 12, 0, 0, 123),
  requestId: 'req_abc',
  actorType: 'admin_token',
  actorId: 'tok_01kb2z3x4y5w6v7u8t9s0r1q2p',
  action: 'agent.create',
  targetType: 'agent',
  targetId: 'agt_01kb2z3x4y5w6v7u8t9s0r1q2p',
  outcome: 'success',
  reason: null,
  details: { actorRole: 'admin', name: 'bot' },
};

const json = fc.jsonValue({ maxDepth: 3 });

describe('audit event views and exports', () => {
  it('round-trips any event through its JSON view, hash intact', () => {
    fc.assert(
      fc.property(
        fc.record({
          at: fc.integer({ min: 0, max: 4_102_444_800_000 }),
          reason: fc.option(fc.string(), { nil: null }),
          outcome: fc.constantFrom('success' as const, 'failure' as const, 'denied' as const),
          details: fc.dictionary(fc.string(), json),
          target: fc.boolean(),
        }),
        ({ at, reason, outcome, details, target }) => {
          const e = recorded({
            ...base,
            at,
            reason,
            outcome,
            details,
            ...(target ? {} : { targetType: null, targetId: null }),
          });
          const line = toJsonLine(toAuditView(e));
          const view = parseAuditView(JSON.parse(line));
          assert.ok(view);
          const back = fromAuditView(view);
          assert.equal(chainHash(back.prevHash as string, back.seq, back), e.hash);
        },
      ),
    );
  });

  it('refuses lines that are not audit events', () => {
    const good = toAuditView(recorded(base));
    assert.ok(parseAuditView(good));
    for (const bad of [
      null,
      [],
      'evt',
      { ...good, seq: '1' },
      { ...good, at: 'yesterday' },
      { ...good, outcome: 'maybe' },
      { ...good, actor: { type: 'agent' } },
      { ...good, target: 'agt_x' },
      { ...good, details: [] },
      { ...good, hash: 7 },
    ]) {
      assert.equal(parseAuditView(bad), null, JSON.stringify(bad));
    }
  });

  it('writes RFC 4180 CSV and defuses spreadsheet formulas', () => {
    assert.equal(csvField(null), '');
    assert.equal(csvField(12), '12');
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField('=HYPERLINK("http://x")'), `"'=HYPERLINK(""http://x"")"`);
    for (const lead of ['+', '-', '@', '\t'])
      assert.equal(csvField(`${lead}1`).replace(/"/g, ''), `'${lead}1`);
    const row = toCsvRow(toAuditView(recorded({ ...base, reason: '=1+1, "quoted"' })));
    assert.equal(csvHeader().split(',').length, 14);
    assert.match(row, /^1,evt_[0-9a-z]+,2026-06-01T12:00:00\.123Z,req_abc,admin_token,/);
    assert.ok(row.includes(`"'=1+1, ""quoted"""`), row);
    assert.ok(row.includes('"{""actorRole"":""admin"",""name"":""bot""}"'), row);
  });

  it('maps token and decision events to OCSF Authorize Session (3003)', () => {
    const issued: AuditEventView = toAuditView(
      recorded({
        ...base,
        actorType: 'agent',
        actorId: base.targetId as string,
        action: 'token.issue',
        details: {
          actorRole: 'agent',
          tokenId: 'jti_1',
          scopes: ['read', 'write'],
          audience: ['https://api.example.com'],
          expiresAt: '2026-06-01T12:05:00.000Z',
          credential: 'key:k1',
          sourceAddress: '127.0.0.1',
        },
      }),
    );
    const o = toOcsf(issued, '0.1.0');
    assert.equal(o.class_uid, 3003);
    assert.equal(o.category_uid, 3);
    assert.equal(o.activity_id, 1);
    assert.equal(o.type_uid, 300301);
    assert.equal(o.status_id, 1);
    assert.equal(o.time, base.at);
    assert.deepEqual(o.privileges, ['read', 'write']);
    assert.deepEqual(o.user, { uid: base.targetId, type: 'Agent', type_id: 99 });
    assert.deepEqual(o.session, {
      uid: 'jti_1',
      expiration_time: Date.UTC(2026, 5, 1, 12, 5),
      credential_uid: 'key:k1',
    });
    assert.deepEqual(o.src_endpoint, { ip: '127.0.0.1' });
    assert.equal((o.metadata as { version: string }).version, '1.3.0');

    const refused = toOcsf(
      toAuditView(
        recorded({
          ...base,
          actorType: 'anonymous',
          actorId: 'unauthenticated',
          action: 'token.refuse',
          outcome: 'denied',
          reason: 'invalid_client: bad signature',
          details: { error: 'invalid_client' },
        }),
      ),
      '0.1.0',
    );
    assert.deepEqual(
      [refused.class_uid, refused.status_id, refused.status_detail],
      [3003, 2, 'invalid_client: bad signature'],
    );

    const decision = toOcsf(
      toAuditView(
        recorded({
          ...base,
          action: 'policy.decision',
          outcome: 'denied',
          details: { request: { action: { type: 'Action', id: 'tools/call' } }, policies: ['p1'] },
        }),
      ),
      '0.1.0',
    );
    assert.deepEqual([decision.class_uid, decision.privileges], [3003, ['tools/call']]);
  });

  it('maps admin changes, rotations and calls to OCSF API Activity (6003) by verb', () => {
    const o = toOcsf(toAuditView(recorded(base)), '0.1.0');
    assert.deepEqual([o.class_uid, o.activity_id, o.type_uid], [6003, 1, 600301]);
    assert.deepEqual(o.api, {
      operation: 'agent.create',
      service: { name: 'custos' },
      request: { uid: 'req_abc' },
    });
    assert.deepEqual(o.resources, [{ uid: base.targetId, type: 'agent' }]);
    assert.deepEqual(o.actor, {
      user: { uid: base.actorId, credential_uid: base.actorId, type: 'Admin', type_id: 2 },
    });
    const custos = (o.unmapped as { custos: { hash: string; seq: number } }).custos;
    assert.equal(custos.seq, 1);
    assert.match(custos.hash, /^[0-9a-f]{64}$/);
    const expected: Record<string, number> = {
      'agent.update': 3,
      'signing_key.rotate': 3,
      'agent.suspend': 3,
      'agent.decommission': 4,
      'admin_token.revoke': 4,
      'audit.prune': 4,
      'federation.add': 1,
      'gateway.call': 99,
    };
    for (const [action, id] of Object.entries(expected)) assert.equal(apiActivity(action).id, id, action);
  });
});
