import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { APPROVAL_REQUIRED_CODE, pendingApprovalOf, pollApproval } from './approvals.js';
import { CustosSdkError } from './errors.js';

const ID = 'apr_01abcdefghjkmnpqrstvwxyz01';
const approval = (status: string) => ({
  id: ID,
  status,
  agent: 'agt_x',
  onBehalfOf: null,
  action: 'tools/call',
  resource: { type: 'Tool', id: 'pay/transfer' },
  request: { input: { amount: 5000 } },
  expiresAt: '2030-01-01T00:00:00.000Z',
});

describe('pendingApprovalOf', () => {
  it('reads the approval of an MCP error, a JSON-RPC body and a problem body', () => {
    const mcpError = Object.assign(new Error('approval required'), {
      code: APPROVAL_REQUIRED_CODE,
      data: { approval: approval('pending') },
    });
    assert.equal(pendingApprovalOf(mcpError)?.id, ID);
    assert.equal(
      pendingApprovalOf({ error: { code: APPROVAL_REQUIRED_CODE, data: { approval: approval('pending') } } })
        ?.id,
      ID,
    );
    assert.equal(
      pendingApprovalOf({
        type: 'urn:custos:problem:gateway-approval-required',
        approval: approval('pending'),
      })?.id,
      ID,
    );
  });

  it('is null for other refusals and malformed answers', () => {
    assert.equal(pendingApprovalOf(Object.assign(new Error('refused'), { code: -32003, data: {} })), null);
    assert.equal(
      pendingApprovalOf({ code: APPROVAL_REQUIRED_CODE, data: { approval: { id: 'nope' } } }),
      null,
    );
    assert.equal(pendingApprovalOf('approval required'), null);
    assert.equal(pendingApprovalOf(null), null);
  });
});

describe('pollApproval', () => {
  const respond = (statuses: (string | number)[]) => {
    let i = 0;
    return async () => {
      const next = statuses[Math.min(i++, statuses.length - 1)];
      return typeof next === 'number'
        ? new Response('{}', { status: next })
        : Response.json(approval(next as string));
    };
  };
  let t = 0;
  const clock = () => t;
  const sleep = async (ms: number) => {
    t += ms;
  };

  it('resolves once approved, after polling while pending', async () => {
    t = 0;
    const result = await pollApproval(
      respond(['pending', 'pending', 'approved']),
      { intervalMs: 100 },
      sleep,
      clock,
    );
    assert.equal(result.status, 'approved');
    assert.equal(t, 200);
  });

  it('rejects with a code for denied, expired, used, timeout and unreadable', async () => {
    const code = (c: string) => (error: unknown) => error instanceof CustosSdkError && error.code === c;
    t = 0;
    await assert.rejects(
      pollApproval(respond(['pending', 'denied']), {}, sleep, clock),
      code('approval_denied'),
    );
    await assert.rejects(pollApproval(respond(['expired']), {}, sleep, clock), code('approval_expired'));
    await assert.rejects(pollApproval(respond(['used']), {}, sleep, clock), code('approval_expired'));
    t = 0;
    await assert.rejects(
      pollApproval(respond(['pending']), { intervalMs: 100, timeoutMs: 250 }, sleep, clock),
      code('approval_timeout'),
    );
    await assert.rejects(
      pollApproval(respond([404]), {}, sleep, clock),
      (e: unknown) => code('approval_failed')(e) && (e as CustosSdkError).status === 404,
    );
  });
});
