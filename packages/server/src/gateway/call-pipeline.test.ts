import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as wasm from '@cedar-policy/cedar-wasm/nodejs';
import { callerContext, cedarIp, consentCovers } from './call-pipeline.js';
import type { VerifiedCaller } from './token-check.js';

const delegated = (consentTools: readonly string[] | null) =>
  ({ onBehalfOf: 'usr_alice', consentTools }) as unknown as VerifiedCaller;

describe('a consent that names tools', () => {
  it('reaches those tools, a whole server with `server/*`', () => {
    const caller = delegated(['billing/list-invoices', 'crm/*']);
    assert.equal(consentCovers(caller, { type: 'Tool', id: 'billing/list-invoices' }), true);
    assert.equal(consentCovers(caller, { type: 'Tool', id: 'crm/find' }), true);
    assert.equal(consentCovers(caller, { type: 'Tool', id: 'billing/pay' }), false);
  });

  it('reaches a server’s resources and prompts only with `server/*`, and no HTTP API', () => {
    const caller = delegated(['billing/list-invoices', 'crm/*']);
    assert.equal(consentCovers(caller, { type: 'McpServer', id: 'crm' }), true);
    assert.equal(consentCovers(caller, { type: 'McpServer', id: 'billing' }), false);
    assert.equal(consentCovers(caller, { type: 'McpServer', id: 'files' }), false);
    assert.equal(consentCovers(caller, { type: 'Route', id: 'payments/POST /transfers' }), false);
    assert.equal(consentCovers(caller, { type: 'Api', id: 'payments' }), false);
  });

  it('a consent without tools does not limit', () => {
    assert.equal(consentCovers(delegated(null), { type: 'Route', id: 'payments/POST /transfers' }), true);
    assert.equal(consentCovers(delegated(null), { type: 'McpServer', id: 'files' }), true);
  });
});

describe('the caller address policies see', () => {
  const readsIp = (arg: string) =>
    wasm.isAuthorized({
      principal: { type: 'Agent', id: 'a' },
      action: { type: 'Action', id: 'tools/call' },
      resource: { type: 'Tool', id: 't' },
      context: { sourceAddress: { __extn: { fn: 'ip', arg } } },
      policies: {
        staticPolicies:
          'permit (principal, action, resource) when { context.sourceAddress.isIpv4() || context.sourceAddress.isIpv6() };',
      },
      entities: [],
    });

  it('is an address Cedar reads, whatever form the socket gave', () => {
    const cases: [string, string][] = [
      ['10.1.2.3', '10.1.2.3'],
      ['::ffff:10.1.2.3', '10.1.2.3'], // an IPv4 client of a server listening on `::`
      ['::FFFF:127.0.0.1', '127.0.0.1'],
      ['fe80::1%eth0', 'fe80::1'],
      ['2001:db8::1', '2001:db8::1'],
      ['::1', '::1'],
      ['', '0.0.0.0'],
      ['not an address', '0.0.0.0'],
    ];
    for (const [socket, expected] of cases) {
      assert.equal(cedarIp(socket), expected, socket);
      const answer = readsIp(cedarIp(socket));
      assert.equal(answer.type, 'success', `${socket}: ${JSON.stringify(answer)}`);
      assert.equal(answer.type === 'success' && answer.response.decision, 'allow', socket);
    }
    // what Cedar refuses as it is: the reason for the mapping
    assert.equal(readsIp('::ffff:10.1.2.3').type, 'failure');
    assert.equal(readsIp('fe80::1%eth0').type, 'failure');
  });

  it('is what the decision context carries', () => {
    const caller = {
      agentId: 'agt_x',
      onBehalfOf: null,
      chain: [],
      consentTools: null,
    } as unknown as VerifiedCaller;
    const context = callerContext(caller, 0, '::ffff:192.0.2.7', {
      calls: 1,
      callsLastHour: 1,
      resourceCallsLastHour: 1,
    });
    assert.deepEqual(context.sourceAddress, { __extn: { fn: 'ip', arg: '192.0.2.7' } });
  });
});
