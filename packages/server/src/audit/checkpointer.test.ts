import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createTestDatabase, type TestDatabase } from '../../test/support/databases.js';
import { manualClock, newId } from '../core/index.js';
import { masterKeyFrom } from '../secrets/index.js';
import { openStore, type Store } from '../storage/index.js';
import { loadAuditKey } from './audit-key.js';
import { Checkpointer } from './checkpointer.js';
import { recordAuditEvent, SYSTEM_ACTOR } from './record-audit-event.js';
import { openCheckpoint, parseVerifierKey, splitNotes } from './signed-note.js';

const T0 = Date.UTC(2026, 3, 1);

describe('Checkpointer', () => {
  let db: TestDatabase;
  let store: Store;
  let dir: string;
  const clock = manualClock(T0);
  before(async () => {
    db = await createTestDatabase('sqlite');
    store = await openStore(db.url, { migrate: true, nowMs: T0 });
    dir = await mkdtemp(join(tmpdir(), 'custos-checkpoints-'));
  });
  after(async () => {
    await store.close();
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const append = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await store.transaction((tx) =>
        recordAuditEvent(tx, clock, SYSTEM_ACTOR, {
          action: 'test.event',
          target: { type: 't', id: newId('evt', clock.now()) },
        }),
      );
    }
  };

  it('signs every N events or T seconds, copies each to the file and the webhook, and retries the webhook', async () => {
    const key = await loadAuditKey(
      { store, clock, master: masterKeyFrom(Buffer.alloc(32, 7)) },
      'test.example/audit',
    );
    const posted: string[] = [];
    let webhookUp = false;
    const fakeFetch: typeof fetch = async (_url, init) => {
      if (!webhookUp) return new Response('down', { status: 503 });
      posted.push(String(init?.body));
      return new Response(null, { status: 204 });
    };
    const file = join(dir, 'checkpoints.note');
    const checkpointer = new Checkpointer(
      { store, clock, logger: pino({ level: 'silent' }), fetch: fakeFetch },
      key,
      {
        origin: 'test.example/audit',
        everyEvents: 5,
        intervalMs: 60_000,
        file,
        webhook: 'http://127.0.0.1:9/checkpoints',
      },
    );

    // the first event is checkpointed at once (no checkpoint yet); then every 5 events
    await append(1);
    clock.advance(1);
    await checkpointer.tick();
    await append(4);
    await checkpointer.tick();
    assert.deepEqual(
      (await store.auditLog.listCheckpoints()).map((c) => c.size),
      [1],
      '4 events since: not yet',
    );
    await append(1);
    await checkpointer.tick();
    // …or once the interval has passed with any new event
    await append(2);
    await checkpointer.tick();
    clock.advance(60_000);
    await checkpointer.tick();
    const sizes = (await store.auditLog.listCheckpoints()).map((c) => c.size);
    assert.deepEqual(sizes, [1, 6, 8]);

    // the webhook was down: nothing is marked copied, and the file got each note once per attempt
    assert.equal((await store.auditLog.unsunkCheckpoints()).length, 3);
    webhookUp = true;
    await checkpointer.tick();
    assert.equal((await store.auditLog.unsunkCheckpoints()).length, 0);
    assert.equal(posted.length, 3);
    const verifier = parseVerifierKey(key.vkey);
    assert.ok(verifier);
    const opened = posted.map((note) => openCheckpoint(note, verifier));
    assert.deepEqual(
      opened.map((c) => c?.size),
      [1, 6, 8],
    );
    const head = await store.auditLog.head();
    assert.equal(opened[2]?.hash, head.hash);
    const fileNotes = splitNotes(await readFile(file, 'utf8'));
    assert.ok(fileNotes.length >= 3);
    for (const note of fileNotes)
      assert.ok(openCheckpoint(note, verifier), 'every note in the file verifies');

    // nothing new: no new checkpoint, even after the interval
    clock.advance(120_000);
    await checkpointer.tick();
    assert.equal((await store.auditLog.listCheckpoints()).length, 3);
    await checkpointer.stop();
  });
});
