import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isId, newId, randomToken } from './ids.js';

describe('ids', () => {
  it('makes prefixed ULIDs that sort by creation within one process', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => newId('agt', 1_700_000_000_000 + Math.floor(i / 500)));
    assert.ok(ids.every((id) => isId('agt', id)));
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(isId('usr', ids[0] as string), false);
  });

  it('draws random tokens of the requested size, never repeating, across pool refills', () => {
    const tokens = Array.from({ length: 5000 }, () => randomToken(16));
    assert.ok(tokens.every((t) => /^[A-Za-z0-9_-]{22}$/.test(t)));
    assert.equal(new Set(tokens).size, tokens.length);
    assert.equal(Buffer.from(randomToken(12), 'base64url').length, 12);
  });
});
