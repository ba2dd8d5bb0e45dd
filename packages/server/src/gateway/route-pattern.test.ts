import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type CompiledPattern, compilePattern, matchPattern } from './route-pattern.js';

const compile = (p: string): CompiledPattern => {
  const c = compilePattern(p);
  if (typeof c === 'string') throw new Error(c);
  return c;
};

describe('route patterns', () => {
  it('matches literal, one-segment and rest parameters', () => {
    assert.deepEqual(matchPattern(compile('/invoices/{id}'), '/invoices/42'), { id: '42' });
    assert.deepEqual(matchPattern(compile('/files/{path*}'), '/files/a/b%20c.txt'), { path: 'a/b c.txt' });
    assert.deepEqual(matchPattern(compile('/'), '/'), {});
    assert.equal(matchPattern(compile('/invoices/{id}'), '/invoices/42/lines'), null);
    assert.equal(matchPattern(compile('/invoices/{id}'), '/invoices/'), null);
    assert.equal(matchPattern(compile('/invoices'), '/invoicesx'), null);
  });

  it('never lets an encoded slash or a dot segment through a parameter', () => {
    assert.equal(matchPattern(compile('/invoices/{id}'), '/invoices/a%2Fb'), null);
    assert.equal(matchPattern(compile('/files/{path*}'), '/files/a%2F..%2Fb'), null);
    assert.equal(matchPattern(compile('/invoices/{id}'), '/invoices/..'), null);
    assert.equal(matchPattern(compile('/invoices/{id}'), '/invoices/%2e%2e'), null);
    assert.equal(matchPattern(compile('/files/{path*}'), '/files/a/../b'), null);
    assert.equal(matchPattern(compile('/invoices/{id}'), '/invoices/%E0%A4%A'), null);
  });

  it('refuses malformed patterns with a reason', () => {
    assert.match(String(compilePattern('invoices')), /must start with/);
    assert.match(String(compilePattern('/{a}/{a}')), /appears twice/);
    assert.match(String(compilePattern('/{rest*}/x')), /last segment/);
    assert.match(String(compilePattern('/a/../b')), /invalid path segment/);
    assert.match(String(compilePattern('/a b')), /invalid path segment/);
  });

  it('a parameter value never contains a slash or is a dot segment (property)', () => {
    const pattern = compile('/v1/{id}');
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (segment) => {
        const path = `/v1/${segment}`;
        const match = matchPattern(pattern, path);
        if (match === null) return true;
        return !match.id?.includes('/') && match.id !== '.' && match.id !== '..' && match.id !== '';
      }),
    );
  });
});
