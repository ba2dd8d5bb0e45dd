import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isEntityTypeName, parseUidKey, parseUidText, uidKey, uidText } from './entity-uid.js';

const ident = fc.stringMatching(/^[_a-zA-Z][_a-zA-Z0-9]{0,8}$/).filter((s) => isEntityTypeName(s));
const typeName = fc.array(ident, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('::'));
const uid = fc.record({ type: typeName, id: fc.string({ maxLength: 40, unit: 'binary' }) });

describe('entity uids', () => {
  it('property: Cedar uid text parses back (by Cedar) to the same uid, whatever the id holds', () => {
    fc.assert(
      fc.property(uid, (u) => {
        assert.deepEqual(parseUidText(uidText(u)), { type: u.type, id: u.id });
      }),
      { numRuns: 300 },
    );
  });

  it('property: index keys parse back to the same uid', () => {
    fc.assert(
      fc.property(uid, (u) => {
        assert.deepEqual(parseUidKey(uidKey(u)), { type: u.type, id: u.id });
      }),
    );
  });

  it('refuses what is not a uid, and type names Cedar cannot use', () => {
    for (const text of [
      'Tool',
      'Tool::x',
      '"x"',
      'Tool::"a"; permit',
      'in::"x"',
      '9a::"x"',
      'Tool::"a") when { true',
    ]) {
      assert.equal(parseUidText(text), null, text);
    }
    assert.equal(isEntityTypeName('Todo::user'), true);
    assert.equal(isEntityTypeName('my-type'), false);
    assert.equal(isEntityTypeName('if'), false);
    assert.equal(isEntityTypeName(''), false);
  });
});
