import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CallCounters, RateLimiter } from './rate-limiter.js';

describe('rate limiter', () => {
  it('allows the burst, then refills at the rate and says how long to wait', () => {
    const limiter = new RateLimiter();
    const limit = { rate: 2, burst: 3 };
    for (let i = 0; i < 3; i++) assert.equal(limiter.take([{ key: 'a', limit }], 1000), 0);
    assert.equal(limiter.take([{ key: 'a', limit }], 1000), 500);
    assert.equal(limiter.take([{ key: 'a', limit }], 1500), 0);
    assert.equal(limiter.take([{ key: 'b', limit }], 1500), 0, 'buckets are per key');
  });

  it('takes from every bucket or from none', () => {
    const limiter = new RateLimiter();
    const tight = { rate: 1, burst: 1 };
    const loose = { rate: 100, burst: 100 };
    assert.equal(
      limiter.take(
        [
          { key: 'loose', limit: loose },
          { key: 'tight', limit: tight },
        ],
        0,
      ),
      0,
    );
    assert.equal(
      limiter.take(
        [
          { key: 'loose', limit: loose },
          { key: 'tight', limit: tight },
        ],
        0,
      ),
      1000,
    );
    // the refused call took nothing from the loose bucket: 99 more fit at once
    for (let i = 0; i < 99; i++) assert.equal(limiter.take([{ key: 'loose', limit: loose }], 0), 0);
    assert.ok(limiter.take([{ key: 'loose', limit: loose }], 0) > 0);
  });

  it('counts calls over a sliding hour', () => {
    const counters = new CallCounters();
    assert.deepEqual(counters.observe('agt', 'tool', 0), { callsLastHour: 0, resourceCallsLastHour: 0 });
    counters.observe('agt', 'other', 30 * 60_000);
    assert.deepEqual(counters.observe('agt', 'tool', 59 * 60_000), {
      callsLastHour: 2,
      resourceCallsLastHour: 1,
    });
    assert.deepEqual(counters.observe('agt', 'tool', 61 * 60_000), {
      callsLastHour: 2,
      resourceCallsLastHour: 1,
    });
    assert.deepEqual(counters.observe('agt', 'tool', 200 * 60_000), {
      callsLastHour: 0,
      resourceCallsLastHour: 0,
    });
  });
});
