import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorOffset, locate } from './source-location.js';

describe('source locations of Cedar errors', () => {
  const text = 'permit (\n  principal,\n  action,\n  resource\n)\nwhen { resource.amount < 1 };';

  it('turns an offset into a 1-based line and column', () => {
    assert.deepEqual(locate(text, 0), { line: 1, column: 1 });
    assert.deepEqual(locate(text, text.indexOf('principal')), { line: 2, column: 3 });
    assert.deepEqual(locate(text, text.indexOf('resource.amount')), { line: 6, column: 8 });
  });

  it('has nothing to say without an offset, and clamps past the end to the last line', () => {
    assert.equal(locate(text, undefined), undefined);
    assert.equal(locate(text, -1), undefined);
    assert.equal(locate(text, 10_000)?.line, 6);
  });

  it('reads the first source location of an error', () => {
    assert.equal(errorOffset({ sourceLocations: [{ start: 7 }, { start: 2 }] }), 7);
    assert.equal(errorOffset({ sourceLocations: [] }), undefined);
    assert.equal(errorOffset({}), undefined);
  });
});
