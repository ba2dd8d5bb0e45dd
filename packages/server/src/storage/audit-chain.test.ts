import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as canonicalizeModule from 'canonicalize';
import fc from 'fast-check';
import { verifyChain } from '../audit/verify-chain.js';
import {
  canonicalEvent,
  canonicalParts,
  chainHash,
  GENESIS_HASH,
  link,
  storedCanonicalParts,
} from './audit-chain.js';
import type { AuditEventInput } from './records.js';

const canonicalize = canonicalizeModule.default as unknown as (input: unknown) => string | undefined;

const text = fc.string({ unit: 'binary', maxLength: 12 });
const event: fc.Arbitrary<AuditEventInput> = fc.record({
  id: text,
  at: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  requestId: fc.option(text, { nil: null }),
  actorType: text,
  actorId: text,
  action: text,
  targetType: fc.option(text, { nil: null }),
  targetId: fc.option(text, { nil: null }),
  outcome: fc.constantFrom('success' as const, 'failure' as const, 'denied' as const),
  reason: fc.option(text, { nil: null }),
  details: fc.dictionary(text, fc.jsonValue({ maxDepth: 3 })),
});

describe('canonical audit events (RFC 8785)', () => {
  it('splits around the sequence number exactly as canonicalizing the whole event would', () => {
    fc.assert(
      fc.property(event, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (e, seq) => {
        const whole = canonicalize({ seq, ...e });
        assert.equal(canonicalEvent(seq, e), whole);
        assert.equal(canonicalEvent(seq, e, canonicalParts(e)), whole);
      }),
    );
  });

  it('hashes the same with parts computed ahead and without', () => {
    fc.assert(
      fc.property(event, fc.nat(), (e, seq) => {
        assert.equal(
          chainHash(GENESIS_HASH, seq + 1, e, canonicalParts(e)),
          chainHash(GENESIS_HASH, seq + 1, e),
        );
      }),
    );
  });

  it('links an event in its stored form: details as their JSON text reads back, what a verifier hashes', async () => {
    const e: AuditEventInput = {
      id: 'evt_1',
      at: 1,
      requestId: null,
      actorType: 'agent',
      actorId: 'agt_1',
      action: 'x',
      targetType: null,
      targetId: null,
      outcome: 'success',
      reason: null,
      // written by JSON differently from RFC 8785 over the object: a hole, a function, a non-finite number
      details: {
        list: Object.assign(new Array(3), { 0: 1, 2: 3 }),
        f: () => 1,
        big: Number.POSITIVE_INFINITY,
        date: new Date(0),
        gone: undefined,
      },
    };
    // the record as a driver stores and reads it back: details through their JSON text
    const linked = link({ seq: 0, hash: GENESIS_HASH }, e);
    const stored = { ...e, details: JSON.parse(JSON.stringify(e.details)) as Record<string, unknown> };
    const report = await verifyChain([{ ...stored, ...linked }]);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.throws(
      () => chainHash(GENESIS_HASH, 1, e),
      /Infinity/,
      'the object as given cannot even be hashed',
    );
    assert.deepEqual(storedCanonicalParts(e), canonicalParts(stored));
    // and the same as the object itself whenever it is plain JSON
    fc.assert(fc.property(event, (ev) => assert.deepEqual(storedCanonicalParts(ev), canonicalParts(ev))));
  });

  it('refuses a sequence number that is not a safe integer', () => {
    const e = fc.sample(event, 1)[0] as AuditEventInput;
    for (const seq of [1.5, Number.NaN, 2 ** 60]) assert.throws(() => canonicalEvent(seq, e), TypeError);
  });
});
