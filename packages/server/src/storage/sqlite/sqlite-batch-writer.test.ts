import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { BatchUnit } from '../batch.js';
import { StoreUnavailable } from '../store-unavailable.js';
import { openSqliteBatchWriter } from './sqlite-batch-writer.js';
import { openSqliteDriver } from './sqlite-driver.js';

const insert = (v: string): BatchUnit => ({
  statements: [{ sql: 'INSERT INTO t (v) VALUES ($1)', params: [v] }],
});

/**
 * Runs `use` (which makes the writer post to its thread) while watching which
 * worker it posts to; returns a function that ends that worker the way a crash
 * would and resolves once it has exited.
 */
async function crashAfter(use: () => Promise<unknown>): Promise<() => Promise<void>> {
  let worker: Worker | null = null;
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (this: Worker, ...args: Parameters<Worker['postMessage']>) {
    worker ??= this;
    return post.apply(this, args);
  };
  try {
    await use();
  } finally {
    Worker.prototype.postMessage = post;
  }
  const seen = worker as Worker | null;
  assert.ok(seen, 'the writer thread was seen');
  return async () => {
    const exited = new Promise((resolve) => seen.once('exit', resolve));
    await seen.terminate();
    await exited;
  };
}

describe('SQLite batch writer: holding it for a transaction of the main thread', () => {
  let dir: string;
  let path: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custos-hold-'));
    path = join(dir, 'db.sqlite');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    db.close();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const rows = () => {
    const db = new Database(path, { readonly: true });
    try {
      return (db.prepare('SELECT v FROM t ORDER BY id').all() as { v: string }[]).map((r) => r.v);
    } finally {
      db.close();
    }
  };

  it('writes nothing while held, and goes on once released', async () => {
    const writer = openSqliteBatchWriter(path);
    try {
      const release = await writer.hold();
      let written = false;
      const write = writer.write([insert('held')]).then(() => {
        written = true;
      });
      await sleep(200);
      assert.equal(written, false, 'a batch was written while the writer was held');
      assert.deepEqual(rows(), []);
      release();
      await write;
      assert.deepEqual(rows(), ['held']);
    } finally {
      await writer.close();
    }
  });

  it('when its thread dies, fails what it was given at once and lets the driver go on', async () => {
    const driver = openSqliteDriver(path);
    try {
      const crash = await crashAfter(() => driver.writeBatch([insert('crash-before')]));
      await crash();
      // a transaction does not wait for a dead writer, and the next batch gets a new one
      await driver.transaction((tx) => tx.write('INSERT INTO t (v) VALUES ($1)', ['crash-after']));
      await driver.writeBatch([insert('crash-new-writer')]);
      assert.deepEqual(rows().slice(-3), ['crash-before', 'crash-after', 'crash-new-writer']);
    } finally {
      await driver.close();
    }
  });

  it('a writer whose thread died refuses new work as unavailable, and closes', async () => {
    let gone = 0;
    const writer = openSqliteBatchWriter(path, { onGone: () => gone++ });
    const crash = await crashAfter(() => writer.write([insert('crash-one')]));
    await crash();
    assert.equal(gone, 1);
    await assert.rejects(writer.write([insert('crash-two')]), StoreUnavailable);
    const release = await writer.hold();
    release();
    await writer.close();
  });

  it('lets the driver commit its transactions amid a stream of batches, losing nothing', async () => {
    const driver = openSqliteDriver(path);
    try {
      let stop = false;
      let batches = 0;
      // keep the batch writer busy the whole time, as under load
      const stream = (async () => {
        while (!stop) {
          await driver.writeBatch([insert(`b${batches}`), insert(`b${batches}'`)]);
          batches++;
        }
      })();
      await sleep(20);
      for (let i = 0; i < 40; i++) {
        await driver.transaction(async (tx) => {
          await tx.write('INSERT INTO t (v) VALUES ($1)', [`tx${i}`]);
          // the transaction's own view, between its writes: no batch lands inside it
          const count = async () =>
            (await tx.all<{ n: number }>("SELECT count(*) AS n FROM t WHERE v LIKE 'b%'"))[0]?.n;
          const before = await count();
          await tx.write('INSERT INTO t (v) VALUES ($1)', [`tx${i}'`]);
          assert.equal(await count(), before);
        });
      }
      stop = true;
      await stream;
      const all = rows();
      for (let i = 0; i < 40; i++) {
        const at = all.indexOf(`tx${i}`);
        assert.ok(at >= 0, `transaction ${i} is missing`);
        assert.equal(all[at + 1], `tx${i}'`, `transaction ${i} was split by another write`);
      }
      assert.ok(batches > 0);
      assert.equal(all.filter((v) => v.startsWith('b')).length, batches * 2);
    } finally {
      await driver.close();
    }
  });
});

describe('SQLite batch writer: the checkpointer thread', () => {
  it('copies committed WAL frames into the database file on its own, and stops with the writer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'custos-checkpoint-'));
    try {
      const path = join(dir, 'db.sqlite');
      const db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      const sizeBefore = (await stat(path)).size;
      const writer = openSqliteBatchWriter(path);
      for (let i = 0; i < 20; i++) {
        await writer.write(Array.from({ length: 50 }, (_, j) => insert(`${i}-${j}-${'x'.repeat(200)}`)));
      }
      // nothing else checkpoints: the writer's connection has wal_autocheckpoint = 0
      const deadline = Date.now() + 5000;
      while ((await stat(path)).size <= sizeBefore && Date.now() < deadline) await sleep(100);
      assert.ok((await stat(path)).size > sizeBefore, 'the database file received the WAL frames');
      const closing = Date.now();
      await writer.close();
      assert.ok(Date.now() - closing < 2000, 'close does not wait on the checkpointer');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
