import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as wasm from '@cedar-policy/cedar-wasm/nodejs';
import fc from 'fast-check';
import type { EntityJson } from './cedar.js';
import type { ContextUse } from './context-use.js';
import type { SetDecision } from './decision.js';
import { type CedarInput, DecisionMemo, memoKey as keyOf, sealEntity } from './decision-memo.js';

const NONE: ContextUse = new Set();
const memoKey = (build: number, i: CedarInput, use: ContextUse = NONE) => keyOf(build, i, use);

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

  it('keys a call with context by the members its policies read, and only those', () => {
    const ctx = (n: number, now: string) => ({
      n,
      now: { __extn: { fn: 'datetime', arg: now } },
      input: { amount: 5, to: 'x' },
    });
    const a = input({ context: ctx(1, '2026-11-29T10:00:00.000Z') });
    const b = input({ context: ctx(2, '2026-11-29T10:00:01.000Z') });
    // nothing read: time and counters do not matter
    assert.ok(memoKey(1, a) !== null);
    assert.equal(memoKey(1, a), memoKey(1, b));
    // `n` read: they differ
    assert.notEqual(memoKey(1, a, new Set(['n'])), memoKey(1, b, new Set(['n'])));
    assert.equal(memoKey(1, a, new Set(['input'])), memoKey(1, b, new Set(['input'])));
    const other = input({
      context: { ...ctx(1, '2026-11-29T10:00:00.000Z'), input: { amount: 6, to: 'x' } },
    });
    assert.notEqual(memoKey(1, a, new Set(['input'])), memoKey(1, other, new Set(['input'])));
    // a member read but absent differs from one present
    assert.notEqual(memoKey(1, input({ context: {} }), new Set(['n'])), memoKey(1, a, new Set(['n'])));
    // the whole context read: never memoized
    assert.equal(memoKey(1, a, 'all'), null);
    assert.ok(memoKey(1, input(), 'all') !== null, 'no context at all is still memoized');
  });

  it('does not memoize when a member no policy reads might not parse in Cedar', () => {
    const unsafe: unknown[] = [
      { __extn: { fn: 'decimal', arg: '922337203685477.5808' } }, // out of range
      { __extn: { fn: 'decimal', arg: '5' } }, // Cedar needs the dot
      JSON.parse('"\\ud800"'), // a lone surrogate: not JSON text Cedar can read
      { [JSON.parse('"\\udc00"')]: 1 },
      { __entity: { type: 'Agent', id: JSON.parse('"x\\ud800"') } },
      { __extn: { fn: 'datetime', arg: '2026-13-01T00:00:00.000Z' } },
      { __extn: { fn: 'datetime', arg: '2026-11-29' } }, // valid for Cedar, but not the one form checked
      { __extn: { fn: 'ip', arg: '::ffff:10.1.2.3' } }, // Cedar refuses IPv4 embedded in IPv6
      { __extn: { fn: 'ip', arg: 'fe80::1%eth0' } }, // and zone indexes
      { __extn: { fn: 'ip', arg: '2001:db8::/32' } }, // a range: not what the gateway sends, not listed
      { __extn: { fn: 'ip', arg: '10.0.0.256' } },
      { __extn: { fn: 'duration', arg: '1h' } },
      { __entity: { type: 'if', id: 'x' } },
      { __entity: { type: 'Bad-Type', id: 'x' } },
      { __entity: { type: 'Agent' } },
      { __expr: 'x' },
      { nested: [{ __extn: { fn: 'ip', arg: 'nope' } }] },
      1.5,
      2 ** 60,
      null,
      new Date(0),
    ];
    for (const value of unsafe) {
      assert.equal(memoKey(1, input({ context: { x: value } as never })), null, JSON.stringify(value));
      // read by the policies, it is in the key as it is, and Cedar's own answer (an error: a deny) is memoized
      const read = memoKey(1, input({ context: { x: value } as never }), new Set(['x']));
      if (value instanceof Date) assert.equal(read, null, 'not plain JSON: never keyed');
      else assert.equal(typeof read, 'string');
    }
    const safe: unknown[] = [
      { __extn: { fn: 'decimal', arg: '-12345678901234.5678' } },
      { __extn: { fn: 'datetime', arg: '2026-11-29T10:00:00.000Z' } },
      { __extn: { fn: 'ip', arg: '127.0.0.1' } },
      { __extn: { fn: 'ip', arg: '::1' } },
      { __extn: { fn: 'ip', arg: '2001:DB8:0000::1' } },
      { __entity: { type: 'Custos::Agent', id: 'agt_1' } },
      { a: [1, 'b', true, { c: [] }] },
    ];
    for (const value of safe) {
      assert.ok(memoKey(1, input({ context: { x: value } as never })) !== null, JSON.stringify(value));
      // and this Cedar does read it: the list holds for the cedar-wasm in use
      const answer = wasm.isAuthorized({
        principal: { type: 'Agent', id: 'a' },
        action: { type: 'Action', id: 'tools/call' },
        resource: { type: 'Tool', id: 't' },
        context: { x: value } as never,
        policies: { staticPolicies: 'permit (principal, action, resource);' },
        entities: [],
      });
      assert.equal(answer.type, 'success', `${JSON.stringify(value)}: ${JSON.stringify(answer)}`);
    }
    // member names: one Cedar would read as an escape, or not well-formed
    for (const name of ['__extn', '__entity', '__expr', '__other', JSON.parse('"\\ud800"') as string]) {
      assert.equal(memoKey(1, input({ context: { [name]: 'x' } as never })), null, name);
    }
    assert.ok(memoKey(1, input({ context: { 'a b': 1, é: 2, '😀': 3 } as never })) !== null);
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

  it('keys a sealed entity by the object (short, and it cannot change), never as another entity', () => {
    const fresh = () => input().entities.map((e) => structuredClone(e) as EntityJson);
    const sealed = fresh().map(sealEntity);
    const key = memoKey(1, input({ entities: sealed }));
    assert.equal(memoKey(1, input({ entities: [...sealed] })), key, 'the same sealed objects: the same key');
    assert.equal(sealEntity(sealed[0] as EntityJson), sealed[0], 'sealing twice changes nothing');
    assert.equal(memoKey(1, input({ entities: sealed })), key);
    assert.ok(
      (key?.length ?? 0) < (memoKey(1, input({ entities: fresh() }))?.length ?? 0),
      'shorter than the text',
    );
    // an equal copy, sealed or not, is another key: a memo miss, never an answer for other data
    assert.notEqual(memoKey(1, input({ entities: fresh().map(sealEntity) })), key);
    assert.notEqual(memoKey(1, input({ entities: fresh() })), key);
    assert.ok(
      Object.isFrozen(sealed[0]) && Object.isFrozen(sealed[0]?.attrs) && Object.isFrozen(sealed[0]?.uid),
    );
    assert.throws(() => {
      (sealed[0]?.attrs as Record<string, unknown>).status = 'suspended';
    }, TypeError);
    // another entity, sealed or not, gives another key
    const other = fresh();
    (other[0] as { attrs: Record<string, unknown> }).attrs.n = 2;
    assert.notEqual(
      memoKey(1, input({ entities: other.map(sealEntity) })),
      memoKey(1, input({ entities: sealed })),
    );
    assert.notEqual(memoKey(1, input({ entities: other })), memoKey(1, input({ entities: sealed })));
    // order and membership are part of the key
    assert.notEqual(
      memoKey(1, input({ entities: [...sealed].reverse() })),
      memoKey(1, input({ entities: sealed })),
    );
    assert.notEqual(
      memoKey(1, input({ entities: sealed.slice(0, 1) })),
      memoKey(1, input({ entities: sealed })),
    );
    // a sealed entity that is not plain JSON is never keyed
    const odd = sealEntity({
      uid: { type: 'X', id: 'x' },
      attrs: { bad: Number.NaN },
      parents: [],
    } as EntityJson);
    assert.equal(memoKey(1, input({ entities: [odd] })), null);
  });
});
