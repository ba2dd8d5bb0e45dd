import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consentCovers } from './call-pipeline.js';
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
