import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEventRecord } from '../storage/index.js';
import { normalizeAddress, parseResourceText, resourceText, toActivity } from './activity-event.js';

const AGENT = 'agt_01aaaaaaaaaaaaaaaaaaaaaaaa';
let seq = 0;
function event(fields: Partial<AuditEventRecord> & Pick<AuditEventRecord, 'action'>): AuditEventRecord {
  seq++;
  return {
    seq,
    id: `evt_${String(seq).padStart(26, '0')}`,
    at: 1_770_000_000_000,
    requestId: 'req_1',
    actorType: 'agent',
    actorId: AGENT,
    targetType: 'agent',
    targetId: AGENT,
    outcome: 'success',
    reason: null,
    details: {},
    prevHash: null,
    hash: null,
    ...fields,
  };
}

describe('toActivity: audit events as activity', () => {
  it('reads token issuances and refusals (from the claimed client) with address and credential', () => {
    const issued = toActivity(
      event({
        action: 'token.issue',
        details: { credential: 'key:k1', tokenId: 'jti-1', sourceAddress: '::ffff:10.0.0.7' },
      }),
    );
    assert.equal(issued?.kind, 'token');
    assert.equal(issued?.outcome, 'allow');
    assert.equal(issued?.sourceAddress, '10.0.0.7');
    assert.equal(issued?.credential, 'key:k1');
    assert.equal(issued?.tokenId, 'jti-1');
    const refused = toActivity(
      event({
        action: 'token.refuse',
        actorType: 'anonymous',
        actorId: 'unauthenticated',
        outcome: 'denied',
        details: { sourceAddress: '10.0.0.8' },
      }),
    );
    assert.deepEqual([refused?.agentId, refused?.outcome, refused?.kind], [AGENT, 'deny', 'token']);
    // a refusal naming no client is nobody's activity
    assert.equal(
      toActivity(event({ action: 'token.refuse', actorType: 'anonymous', targetType: null, targetId: null })),
      null,
    );
  });

  it('reads gateway calls (not their pre-call authorization), with the resource and bytes returned', () => {
    const call = toActivity(
      event({
        action: 'gateway.call',
        targetType: 'tool',
        targetId: 'crm/export',
        outcome: 'denied',
        details: {
          action: 'tools/call',
          resource: 'Tool::"crm/export"',
          tokenId: 'jti-2',
          sourceAddress: '10.0.0.9',
          onBehalfOf: 'usr_x',
          bytesIn: 10,
          bytesOut: 4096,
        },
      }),
    );
    assert.equal(call?.kind, 'call');
    assert.equal(call?.action, 'tools/call');
    assert.equal(call?.resource, 'Tool::"crm/export"');
    assert.equal(call?.resourceId, 'crm/export');
    assert.equal(call?.outcome, 'deny');
    assert.equal(call?.bytes, 4096);
    assert.equal(call?.onBehalfOf, 'usr_x');
    assert.equal(
      toActivity(event({ action: 'gateway.authorize', details: { resource: 'Tool::"a/b"' } })),
      null,
    );
    assert.equal(toActivity(event({ action: 'gateway.session.open' })), null);
  });

  it('reads AuthZEN decisions about an agent, but not those of token requests or policy tests', () => {
    const request = {
      principal: { type: 'Agent', id: AGENT },
      action: 'tools/call',
      resource: { type: 'Tool', id: 'x/y' },
    };
    const decided = toActivity(
      event({
        action: 'policy.decision',
        actorType: 'admin_token',
        actorId: 'tok_1',
        outcome: 'denied',
        details: { source: 'authzen', request },
      }),
    );
    assert.equal(decided?.agentId, AGENT);
    assert.equal(decided?.resource, 'Tool::"x/y"');
    assert.equal(decided?.outcome, 'deny');
    for (const source of ['token', 'test']) {
      assert.equal(toActivity(event({ action: 'policy.decision', details: { source, request } })), null);
    }
  });

  it('reads reported activity with the time it happened and the reporter’s tags', () => {
    const reported = toActivity(
      event({
        action: 'activity.report',
        actorType: 'admin_token',
        actorId: 'tok_rs',
        details: {
          kind: 'call',
          activity: 'resources/read',
          resource: { type: 'Document', id: 'hr/salaries' },
          occurredAt: 1_769_999_999_000,
          bytes: 1234,
          tags: ['sensitive', 7],
          sourceAddress: 'not an ip',
        },
      }),
    );
    assert.equal(reported?.at, 1_769_999_999_000);
    assert.equal(reported?.resource, 'Document::"hr/salaries"');
    assert.deepEqual(reported?.tags, ['sensitive']);
    assert.equal(reported?.sourceAddress, null);
    assert.equal(reported?.bytes, 1234);
  });

  it('ignores admin changes', () => {
    assert.equal(
      toActivity(event({ action: 'agent.update', actorType: 'admin_token', actorId: 'tok_1' })),
      null,
    );
  });

  it('round-trips resource text and normalises addresses', () => {
    const text = resourceText('Route', 'api/GET /a"b\\c');
    assert.deepEqual(parseResourceText(text), { type: 'Route', id: 'api/GET /a"b\\c' });
    assert.deepEqual(parseResourceText('Ns::Tool::"x"'), { type: 'Ns::Tool', id: 'x' });
    assert.equal(parseResourceText('nonsense'), null);
    assert.equal(normalizeAddress('2001:DB8::1'), '2001:db8::1');
    assert.equal(normalizeAddress('999.1.1.1'), null);
  });
});
