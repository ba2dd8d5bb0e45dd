import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CREDENTIAL_PATTERN, formatCredential, parseCredential } from './credential-format.js';

describe('credential format', () => {
  it('formats a credential that parses back with its kind', () => {
    const token = formatCredential('pat', randomBytes(64));
    assert.match(token, /^cst_pat_[0-9A-Za-z]{38}$/);
    assert.deepEqual(parseCredential(token), { ok: true, kind: 'pat' });
  });

  it('is found by the scanner pattern inside free text', () => {
    const token = formatCredential('pat', randomBytes(64));
    const found = `export TOKEN=${token} # leaked`.match(CREDENTIAL_PATTERN);
    assert.deepEqual(found, [token]);
  });

  it('rejects any single-character change, truncation or extension', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.nat(),
        fc.nat(60),
        (bytes, pos, delta) => {
          const token = formatCredential('pat', bytes);
          const i = 8 + (pos % (token.length - 8));
          const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
          const c = alphabet[(alphabet.indexOf(token[i] as string) + 1 + delta) % 62] as string;
          const mutated = token.slice(0, i) + c + token.slice(i + 1);
          // CRC32 detects every single-symbol error in a message this short
          assert.deepEqual(parseCredential(mutated), { ok: false });
          assert.deepEqual(parseCredential(token.slice(0, -1)), { ok: false });
          assert.deepEqual(parseCredential(`${token}0`), { ok: false });
        },
      ),
    );
  });

  it('refuses too little randomness and bad kinds', () => {
    assert.throws(() => formatCredential('pat', new Uint8Array(10)), /not enough random bytes/);
    assert.throws(() => formatCredential('PAT', randomBytes(64)), /invalid credential kind/);
  });
});
