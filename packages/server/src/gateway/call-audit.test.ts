import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CallAudit } from './call-audit.js';

describe('the keyed hash of call arguments', () => {
  const key = randomBytes(32);
  // digest reads only the settings: no committer, clock or logger is reached
  const audit = new CallAudit({} as ConstructorParameters<typeof CallAudit>[0], {
    mode: 'fast',
    keepArguments: false,
    argumentsKey: key,
  });

  it('is HMAC-SHA-256 with the key over the RFC 8785 form, so an auditor holding the key can match it', () => {
    const expected = createHmac('sha256', key).update('{"a":1,"b":[true,"x"]}').digest('base64url');
    assert.equal(audit.digest({ b: [true, 'x'], a: 1 }), `hmac-sha256:${expected}`);
    const none = createHmac('sha256', key).update('null').digest('base64url');
    assert.equal(audit.digest(undefined), `hmac-sha256:${none}`);
  });

  it('is the same for the same arguments in any key order, and differs for others or another key', () => {
    assert.equal(audit.digest({ a: 1, b: 2 }), audit.digest({ b: 2, a: 1 }));
    assert.notEqual(audit.digest({ a: 1, b: 2 }), audit.digest({ a: 1, b: 3 }));
    const other = new CallAudit({} as ConstructorParameters<typeof CallAudit>[0], {
      mode: 'fast',
      keepArguments: false,
      argumentsKey: randomBytes(32),
    });
    assert.notEqual(audit.digest({ a: 1 }), other.digest({ a: 1 }));
    // the record holds the hash only, unless arguments are kept
    assert.deepEqual(Object.keys(audit.arguments({ secret: 'x' })), ['argumentsHash']);
  });
});
