import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { masterKeyFrom, seal, unseal } from './seal.js';

describe('seal / unseal (AES-256-GCM under the master key)', () => {
  const master = masterKeyFrom(randomBytes(32));

  it('round-trips and records the master key id', () => {
    const sealed = seal(master, 'private key bytes', 'signing-key:k1');
    assert.match(sealed, new RegExp(`^v1\\.${master.id}\\.`));
    assert.ok(!sealed.includes('private key bytes'));
    assert.equal(unseal(master, sealed, 'signing-key:k1').toString(), 'private key bytes');
  });

  it('fails closed on any change to the IV, ciphertext or tag', () => {
    const sealed = seal(master, 'secret value that matters', 'ctx');
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (part, pos, flip) => {
          const parts = sealed.split('.');
          const bytes = Buffer.from(parts[part] as string, 'base64url');
          const i = pos % bytes.length;
          bytes[i] = (bytes[i] as number) ^ flip;
          parts[part] = bytes.toString('base64url');
          assert.throws(() => unseal(master, parts.join('.'), 'ctx'), /failed authentication/);
        },
      ),
    );
  });

  it('refuses another context, another master key and a malformed value', () => {
    const sealed = seal(master, 'x', 'signing-key:k1');
    assert.throws(() => unseal(master, sealed, 'signing-key:k2'), /failed authentication/);
    assert.throws(() => unseal(masterKeyFrom(randomBytes(32)), sealed, 'signing-key:k1'), /needs master key/);
    assert.throws(() => unseal(master, 'garbage', 'x'), /unknown format/);
  });
});
