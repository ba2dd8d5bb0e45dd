import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPassword, hashPassword, passwordProblem } from './passwords.js';

describe('console passwords', () => {
  it('hashes with argon2id and a fresh salt, and checks', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    assert.match(a, /^\$argon2id\$v=19\$m=65536,t=3,p=4\$/);
    assert.notEqual(a, b, 'a random salt per hash');
    assert.equal(await checkPassword(a, 'correct horse battery'), true);
    assert.equal(await checkPassword(a, 'correct horse batterY'), false);
  });

  it('refuses without error for no stored hash (unknown user) and for a malformed one', async () => {
    assert.equal(await checkPassword(null, 'anything at all'), false);
    assert.equal(await checkPassword('not-a-phc-string', 'anything at all'), false);
  });

  it('accepts 12 to 1024 characters without surrounding white space', () => {
    assert.match(passwordProblem('short') ?? '', /at least 12/);
    assert.match(passwordProblem('x'.repeat(1025)) ?? '', /at most 1024/);
    assert.match(passwordProblem(' leading space ok?') ?? '', /white space/);
    assert.equal(passwordProblem('twelve chars'), null);
    assert.equal(passwordProblem('🔑'.repeat(12)), null, 'counts characters, not UTF-16 units');
  });
});
