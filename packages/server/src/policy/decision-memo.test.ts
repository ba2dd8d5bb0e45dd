import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { EntityJson } from './cedar.js';
import type { SetDecision } from './decision.js';
import { type CedarInput, DecisionMemo, memoKey } from './decision-memo.js';

const input = (over: Partial<CedarInput> = {}): CedarInput => ({
  principal: { type: 'Agent', id: 'agt_1' },
  action: { type: 'Action', id: 'token:issue' },
  resource: { type: 'Scope', id: 'read' },
  context: {},
  entities: [
    { uid: { type: 'Agent', id: 'agt_1' }, attrs: { status: 'active', n: 1 }, parents: [] },
    { uid: { type: 'Scope', id: 'read' }, attrs: {}, parents: [] },
  ],
  ...over,
});

const allow: SetDecision = { allowed: true, policies: ['p'], errors: [], version: 3, evaluated: 1 };

describe('decision memo', () => {
  it('keys a context-free call by its build and the exact text of every input', () => {
    assert.equal(memoKey(1, input()), memoKey(1, input()));
    assert.notEqual(memoKey(1, input()), memoKey(2, input()), 'another build of the set');
    const changed = input().entities.map((e, i) =>
      i === 0 ? { ...e, attrs: { ...e.attrs, status: 'suspended' } } : e,
    );
    assert.notEqual(memoKey(1, input()), memoKey(1, input({ entities: changed })), 'an attribute');
    const reparented = input().entities.map((e, i) =>
      i === 0 ? { ...e, parents: [{ type: 'Team', id: 'x' }] } : e,
    );
    assert.notEqual(memoKey(1, input()), memoKey(1, input({ entities: reparented })), 'a parent');
    assert.notEqual(memoKey(1, input()), memoKey(1, input({ resource: { type: 'Scope', id: 'write' } })));
    assert.notEqual(memoKey(1, input()), memoKey(1, input({ action: { type: 'Action', id: 'other' } })));
  });

  it('does not memoize calls with context (the gateway: time and counters change every call)', () => {
    assert.equal(memoKey(1, input({ context: { n: 1 } })), null);
  });

  it('does not memoize inputs whose JSON text is not what Cedar is given', () => {
    const withAttr = (value: unknown): EntityJson[] => [
      { uid: { type: 'Agent', id: 'agt_1' }, attrs: { x: value } as EntityJson['attrs'], parents: [] },
    ];
    for (const value of [
      undefined,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      10n,
      new Map([['a', 1]]),
      new Date(0),
      { toJSON: () => 'x' },
      () => 1,
      Symbol('s'),
      new Array(2), // holes
    ]) {
      assert.equal(memoKey(1, input({ entities: withAttr(value) })), null, String(typeof value));
    }
    const huge = withAttr('x'.repeat(40_000));
    assert.equal(memoKey(1, input({ entities: huge })), null, 'too large to key');
  });

  it('property: equal keys only for equal inputs', () => {
    const json = fc.jsonValue({ maxDepth: 3 });
    fc.assert(
      fc.property(json, json, (a, b) => {
        const ka = memoKey(
          1,
          input({ entities: [{ uid: { type: 'E', id: '1' }, attrs: { a } as never, parents: [] }] }),
        );
        const kb = memoKey(
          1,
          input({ entities: [{ uid: { type: 'E', id: '1' }, attrs: { a: b } as never, parents: [] }] }),
        );
        if (ka !== null && ka === kb) assert.deepEqual(a, b);
      }),
    );
  });

  it('evicts the least recently used answer and hands out frozen answers', () => {
    const memo = new DecisionMemo(2);
    const stored = memo.set('a', allow);
    assert.ok(Object.isFrozen(stored) && Object.isFrozen(stored.policies));
    memo.set('b', allow);
    memo.get('a'); // a is now the most recent
    memo.set('c', allow);
    assert.equal(memo.get('b'), undefined);
    assert.deepEqual(memo.get('a'), allow);
    assert.deepEqual(memo.get('c'), allow);
    assert.equal(memo.size, 2);
  });

  it('keeps the keys it holds under a character budget', () => {
    const memo = new DecisionMemo(100, 10);
    memo.set('aaaa', allow);
    memo.set('bbbb', allow);
    memo.set('cccc', allow); // 12 characters: the oldest goes
    assert.equal(memo.get('aaaa'), undefined);
    assert.equal(memo.size, 2);
    memo.set('x'.repeat(10), allow);
    assert.equal(memo.size, 1);
  });
});
