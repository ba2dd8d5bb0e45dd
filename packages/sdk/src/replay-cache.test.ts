import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryReplayCache } from './replay-cache.js';

describe('memory replay cache', () => {
  it('reports first use once, then replay until the key expires', () => {
    let now = 1_000;
    const cache = createMemoryReplayCache({ clock: () => now });
    assert.equal(cache.checkAndStore('a', 2_000), true);
    assert.equal(cache.checkAndStore('a', 2_000), false);
    assert.equal(cache.checkAndStore('b', 2_000), true);
    now = 1_999;
    assert.equal(cache.checkAndStore('a', 3_000), false);
    now = 2_000;
    assert.equal(cache.checkAndStore('a', 3_000), true);
  });

  it('fails closed when full of live keys, and makes room as keys expire', () => {
    let now = 0;
    const cache = createMemoryReplayCache({ maxEntries: 2, clock: () => now });
    assert.equal(cache.checkAndStore('a', 100), true);
    assert.equal(cache.checkAndStore('b', 200), true);
    assert.equal(cache.checkAndStore('c', 300), false);
    now = 150;
    assert.equal(cache.checkAndStore('c', 300), true);
    assert.equal(cache.checkAndStore('b', 300), false);
  });

  it('prunes expired keys that are not at the front', () => {
    let now = 0;
    const cache = createMemoryReplayCache({ maxEntries: 2, clock: () => now });
    cache.checkAndStore('long', 1_000);
    cache.checkAndStore('short', 10);
    now = 20;
    assert.equal(cache.checkAndStore('new', 1_000), true);
    assert.equal(cache.checkAndStore('long', 1_000), false);
  });

  it('rejects a nonsensical size', () => {
    assert.throws(() => createMemoryReplayCache({ maxEntries: 0 }), TypeError);
  });
});
