import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CedarValueError, toCedarRecord, toCedarValue } from './cedar-values.js';

describe('JSON to Cedar values', () => {
  it('keeps strings, booleans, integers, arrays and records; drops null members', () => {
    assert.deepEqual(
      toCedarRecord({ a: 'x', b: true, c: 3, d: [1, 'y'], e: { f: null, g: 2 }, h: null }, 'context'),
      {
        a: 'x',
        b: true,
        c: 3,
        d: [1, 'y'],
        e: { g: 2 },
      },
    );
  });

  it('turns exact decimals into the decimal extension, and refuses other numbers and nulls in sets', () => {
    assert.deepEqual(toCedarValue(1.25, 'x'), { __extn: { fn: 'decimal', arg: '1.25' } });
    assert.throws(() => toCedarValue(0.1 + 0.2, 'context.amount'), /`context\.amount`: the number/);
    assert.throws(() => toCedarValue(2 ** 60, 'x'), /integer range/);
    assert.throws(() => toCedarValue([null], 'list'), /`list\[0\]` is null/);
  });

  it('property: any JSON converts, or fails with a CedarValueError naming where', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          toCedarValue(value, 'v');
        } catch (error) {
          assert.ok(error instanceof CedarValueError, String(error));
          assert.match(error.message, /`v/);
        }
      }),
      { numRuns: 500 },
    );
  });
});
