import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BLOCK_BEGIN,
  cedarTypeOf,
  gatewaySchemaBlock,
  inputUnion,
  withGatewayBlock,
} from './cedar-input-types.js';

describe('tool arguments as Cedar types', () => {
  it('maps JSON Schema types', () => {
    assert.equal(cedarTypeOf({ type: 'string', format: 'date-time' }), 'String');
    assert.equal(cedarTypeOf({ type: 'integer' }), 'Long');
    assert.equal(cedarTypeOf({ type: 'number' }), 'Long');
    assert.equal(cedarTypeOf({ type: ['boolean', 'null'] }), 'Bool');
    assert.equal(cedarTypeOf({ type: 'array', items: { type: 'string' } }), 'Set<String>');
    assert.equal(cedarTypeOf({ enum: ['a', 'b'] }), 'String');
    assert.equal(cedarTypeOf({ anyOf: [{ type: 'string' }, { type: 'null' }] }), 'String');
    assert.equal(
      cedarTypeOf({
        type: 'object',
        properties: { 'file-path': { type: 'string' }, n: { type: 'integer' } },
      }),
      '{ "file-path": String, "n": Long }',
    );
  });

  it('has no type for free-form objects, mixed unions, untyped arrays and references', () => {
    assert.equal(cedarTypeOf({ type: 'object', additionalProperties: true }), null);
    assert.equal(cedarTypeOf({ anyOf: [{ type: 'string' }, { type: 'integer' }] }), null);
    assert.equal(cedarTypeOf({ type: 'array' }), null);
    assert.equal(cedarTypeOf({ $ref: '#/defs/x' }), null);
  });

  it('unites the arguments of every tool and leaves out conflicting ones', () => {
    const union = inputUnion([
      {
        id: 's/a',
        inputSchema: { type: 'object', properties: { amount: { type: 'integer' }, to: { type: 'string' } } },
      },
      {
        id: 's/b',
        inputSchema: {
          type: 'object',
          properties: { amount: { type: 'integer' }, to: { type: 'array', items: { type: 'string' } } },
        },
      },
      { id: 's/c', inputSchema: { type: 'object', properties: { blob: {} } } },
    ]);
    assert.deepEqual([...union.attributes], [['amount', 'Long']]);
    assert.equal(union.omitted.length, 2);
    assert.match(union.omitted.join('\n'), /argument `to` is `String` in `s\/a` but `Set<String>` in `s\/b`/);
    assert.match(union.omitted.join('\n'), /`blob` of `s\/c`/);
  });

  it('replaces its block in the admin text and keeps the rest', () => {
    const block = gatewaySchemaBlock(inputUnion([]), ['id']);
    const once = withGatewayBlock('entity Doc;', block);
    assert.ok(once.startsWith('entity Doc;\n\n'));
    const again = withGatewayBlock(once, gatewaySchemaBlock(inputUnion([]), ['id', 'path']));
    assert.equal(again.split(BLOCK_BEGIN).length, 2);
    assert.match(again, /"path": String/);
    assert.ok(again.startsWith('entity Doc;'));
    assert.equal(withGatewayBlock('', block), `${block}\n`);
  });
});
