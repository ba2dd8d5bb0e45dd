/**
 * Durable audit appends with concurrent writers: many callers append audit
 * events at once through the group committer into SQLite (WAL,
 * synchronous=FULL, on its worker thread), each answered only once its event
 * is durable and chained. The floor, measured in the same run on the same
 * database file: a raw batched insert of the very same rows (the stored
 * columns, hashes precomputed), in the very same batches, with plain
 * better-sqlite3 on the main thread (one connection kept open across rounds,
 * like the writer's), one durable commit per batch. The floor's table is made
 * from audit_events' own DDL (INTEGER PRIMARY KEY AUTOINCREMENT, UNIQUE id,
 * every index), starts with the warm-up's rows and gets each round's rows after
 * audit_events did, so both insert into B-trees of the same size. (The floor
 * slows as the tables grow, more than the group commit does: each round prints
 * its own ratio, and rounds are in order of table size.) The ratio is appends
 * per second over the floor's rows per second; p50/p99 are the latency of one
 * append, from submit to durable acknowledgement.
 *
 * An audit log in use holds many events, and insert cost grows with the
 * B-trees, so the measured rounds run after both tables were filled with
 * BENCH_PREFILL events (default 100,000; untimed, the same rows in both). One
 * round on the fresh log (2,000 events) is measured first and printed too:
 * there the floor's inserts are cheapest and the group commit's fixed costs
 * (answering callers, canonical JSON, the hand-off to the writer thread) show
 * the most.
 *
 * Run: npm run bench -- audit-append   (BENCH_WRITERS, BENCH_APPENDS, BENCH_ROUNDS, BENCH_PREFILL, BENCH_IN_FLIGHT)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type Actor, auditStatement } from '../packages/server/src/audit/index.js';
import { systemClock } from '../packages/server/src/core/index.js';
import { createGroupCommitter, openStore, type Store } from '../packages/server/src/storage/index.js';
import { percentile } from './support.js';

const WRITERS = Number(process.env.BENCH_WRITERS ?? 64);
const APPENDS = Number(process.env.BENCH_APPENDS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Events both tables hold before the measured rounds (an audit log in use is large); 0: measure a fresh log. */
const PREFILL = Number(process.env.BENCH_PREFILL ?? 100_000);
/** Batches handed to the writer at once; unset: the server's default. */
const IN_FLIGHT = process.env.BENCH_IN_FLIGHT ? Number(process.env.BENCH_IN_FLIGHT) : undefined;

const agentActor = (n: number): Actor => ({
  type: 'agent',
  id: `agt_01kbench${String(n % 1000).padStart(17, '0')}`,
  role: 'agent',
  userId: null,
  requestId: `req_${n.toString(36).padStart(16, '0')}`,
});

/** A token-issuance event, the most frequent kind, with its usual details. */
const statementFor = (n: number) =>
  auditStatement(systemClock, agentActor(n), {
    action: 'token.issue',
    target: { type: 'agent', id: agentActor(n).id },
    details: {
      grantType: 'client_credentials',
      credential: 'key:Hk2bP0pWcS9jY1qX',
      tokenId: `jti_${n.toString(36).padStart(20, '0')}`,
      signingKey: 'sk_2026_01',
      audience: ['https://api.example.com'],
      scopes: ['read', 'write'],
      dpopJkt: 'cXbQ5N1zqkqgG8kQd4mYyGmF6hYwR3o3d3xkq0m5p7U',
      expiresAt: '2026-01-01T00:05:00.000Z',
      sourceAddress: '127.0.0.1',
    },
  });

interface GroupRun {
  readonly seconds: number;
  readonly latenciesMs: number[];
  /** The batch sizes the committer formed, in commit order. */
  readonly batches: number[];
  readonly firstSeq: number;
}

/** `APPENDS` appends from `WRITERS` concurrent callers, each waiting for its own durable acknowledgement. */
async function groupCommitRun(store: Store): Promise<GroupRun> {
  const batches: number[] = [];
  const committer = createGroupCommitter(store, {
    observe: (units) => batches.push(units),
    ...(IN_FLIGHT ? { maxInFlight: IN_FLIGHT } : {}),
  });
  const firstSeq = (await store.auditLog.head()).seq + 1;
  const latenciesMs: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (next < APPENDS) {
        const n = next++;
        const t0 = process.hrtime.bigint();
        const outcome = await committer.submit({ statements: [statementFor(n)] });
        if (!outcome.ok) throw new Error('an append failed');
        latenciesMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, latenciesMs, batches, firstSeq };
}

const FLOOR_TABLE = 'bench_raw';

/**
 * The floor's table: audit_events' own DDL (INTEGER PRIMARY KEY AUTOINCREMENT,
 * UNIQUE id, every index), renamed, holding the rows audit_events holds now
 * (untimed). Each round then adds the round's rows to both, so at every round
 * the floor writes into B-trees of the same size as the group commit did.
 */
function createFloorTable(path: string): void {
  const db = new Database(path);
  const schema = db
    .prepare(
      "SELECT sql FROM sqlite_master WHERE tbl_name = 'audit_events' AND sql IS NOT NULL ORDER BY type DESC",
    )
    .all() as { sql: string }[];
  if (schema.length < 5) throw new Error('the audit_events schema was not found');
  for (const { sql } of schema) db.exec(sql.replaceAll('audit_events', FLOOR_TABLE));
  db.exec(`INSERT INTO ${FLOOR_TABLE} SELECT * FROM audit_events`);
  db.close();
}

/** The floor's connection: plain better-sqlite3, WAL, synchronous=FULL; kept open across rounds, like the writer's. */
function openFloor(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  return db;
}

/** The floor: the same stored rows, in the same batches, into a table of the same shape and size, one durable commit each. */
function rawRun(db: Database.Database, run: GroupRun): number {
  const rows = db
    .prepare('SELECT * FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT ?')
    .all(run.firstSeq, APPENDS) as Record<string, unknown>[];
  const columns = Object.keys(rows[0] ?? {});
  const insert = db.prepare(
    `INSERT INTO ${FLOOR_TABLE} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`,
  );
  let at = 0;
  const started = process.hrtime.bigint();
  for (const size of run.batches) {
    db.exec('BEGIN IMMEDIATE');
    for (const row of rows.slice(at, at + size)) insert.run(row);
    db.exec('COMMIT');
    at += size;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (at !== APPENDS) throw new Error(`replayed ${at} rows, expected ${APPENDS}`);
  return seconds;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'custos-bench-audit-'));
  const path = join(dir, 'custos.db');
  const store = await openStore(`sqlite:${path}`, { migrate: true });
  try {
    // warm-up: the worker thread, statement caches, the file's first pages
    const committer = createGroupCommitter(store);
    await Promise.all(
      Array.from({ length: 2000 }, (_, n) => committer.submit({ statements: [statementFor(n)] })),
    );

    createFloorTable(path);
    const floorDb = openFloor(path);

    const measure = async () => {
      const run = await groupCommitRun(store);
      const floorSeconds = rawRun(floorDb, run);
      return { run, rate: APPENDS / run.seconds, floor: APPENDS / floorSeconds };
    };
    const fresh = await measure();
    console.log(
      `fresh log (${fresh.run.firstSeq - 1} events before): ${fresh.rate.toFixed(0)} appends/s vs raw ${fresh.floor.toFixed(0)} rows/s → ${(fresh.rate / fresh.floor).toFixed(2)}×`,
    );
    if (PREFILL > 0) {
      const started = Date.now();
      const filler = createGroupCommitter(store);
      for (let done = 0; done < PREFILL; done += 10_000) {
        const n = Math.min(10_000, PREFILL - done);
        await Promise.all(
          Array.from({ length: n }, (_, i) =>
            filler.submit({ statements: [statementFor(1_000_000 + done + i)] }),
          ),
        );
      }
      floorDb.exec(
        `INSERT INTO ${FLOOR_TABLE} SELECT * FROM audit_events WHERE seq > (SELECT MAX(seq) FROM ${FLOOR_TABLE})`,
      );
      console.log(
        `filled both tables with ${PREFILL} more events (${((Date.now() - started) / 1000).toFixed(1)} s, untimed)`,
      );
    }

    const ratios: number[] = [];
    const rates: number[] = [];
    const floors: number[] = [];
    const p50s: number[] = [];
    const p99s: number[] = [];
    const batchMeans: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const { run, rate, floor } = await measure();
      const sorted = [...run.latenciesMs].sort((a, b) => a - b);
      rates.push(rate);
      floors.push(floor);
      ratios.push(rate / floor);
      p50s.push(percentile(sorted, 50));
      p99s.push(percentile(sorted, 99));
      batchMeans.push(APPENDS / run.batches.length);
      console.log(
        `round ${round} (${run.firstSeq - 1} events before): ${rate.toFixed(0)} appends/s vs raw ${floor.toFixed(0)} rows/s → ${(rate / floor).toFixed(2)}×; ` +
          `p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms; ` +
          `${run.batches.length} commits (mean ${(APPENDS / run.batches.length).toFixed(1)} per commit)`,
      );
    }
    floorDb.close();
    console.log('');
    console.log(
      `| writers | appends | durable appends/s | raw batched insert rows/s | ratio | p50 | p99 | mean batch |`,
    );
    console.log(`| --- | --- | --- | --- | --- | --- | --- | --- |`);
    console.log(
      `| ${WRITERS} | ${APPENDS} | ${median(rates).toFixed(0)} | ${median(floors).toFixed(0)} | **${median(ratios).toFixed(2)}×** | ` +
        `${median(p50s).toFixed(2)} ms | ${median(p99s).toFixed(2)} ms | ${median(batchMeans).toFixed(1)} |`,
    );
    console.log(
      `(medians of ${ROUNDS} rounds after ${PREFILL} prefilled events; fresh log: ${(fresh.rate / fresh.floor).toFixed(2)}×; goal: ratio ≥ 0.8×)`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
