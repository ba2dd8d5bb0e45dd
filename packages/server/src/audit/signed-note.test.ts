import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { openCheckpoint, parseVerifierKey, signCheckpoint, splitNotes, verifierKey } from './signed-note.js';

describe('signed checkpoints (C2SP signed-note)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from((publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
  const name = 'custos.example/audit';
  const vkey = parseVerifierKey(verifierKey(name, raw));
  const checkpoint = { origin: 'custos.example/audit', size: 42, hash: 'ab'.repeat(32) };

  it('signs in the signed-note text format and opens again', () => {
    assert.ok(vkey);
    const note = signCheckpoint(checkpoint, name, privateKey, raw);
    assert.match(
      note,
      /^custos\.example\/audit\n42\n[A-Za-z0-9+/]{43}=\n\n\u2014 custos\.example\/audit [A-Za-z0-9+/=]{92}\n$/,
    );
    assert.deepEqual(openCheckpoint(note, vkey), checkpoint);
  });

  it('refuses an altered size or hash, another key and a malformed note', () => {
    assert.ok(vkey);
    const note = signCheckpoint(checkpoint, name, privateKey, raw);
    assert.equal(openCheckpoint(note.replace('\n42\n', '\n41\n'), vkey), null);
    assert.equal(openCheckpoint(note.replace(/\n([A-Za-z])/, '\nB'), vkey), null);
    const other = generateKeyPairSync('ed25519');
    const otherRaw = Buffer.from((other.publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
    const otherKey = parseVerifierKey(verifierKey(name, otherRaw));
    assert.ok(otherKey);
    assert.equal(openCheckpoint(note, otherKey), null);
    assert.equal(openCheckpoint('garbage', vkey), null);
    assert.equal(parseVerifierKey('name+00000000+AAAA'), null);
  });

  it('splits a file of notes', () => {
    const a = signCheckpoint(checkpoint, name, privateKey, raw);
    const b = signCheckpoint({ ...checkpoint, size: 43 }, name, privateKey, raw);
    assert.deepEqual(splitNotes(`${a}\n${b}\n`), [a, b]);
  });
});
