/**
 * Durable audit appends with concurrent writers: many callers append audit
 * events at once through the group committer into SQLite (WAL,
 * synchronous=FULL, on its worker thread), each answered only once its event
 * is durable and chained. The floor, measured in the same run on the same
 * database file: a raw batched insert of the very same rows (the stored
 * columns, hashes precomputed), in the very same batches, with plain
 * better-sqlite3 on the main thread, one durable commit per batch. The floor's
 * table is made from audit_events' own DDL (INTEGER PRIMARY KEY AUTOINCREMENT,
 * UNIQUE id, every index) and, untimed, filled with the rows audit_events held
 * when the round began, so both insert into B-trees of the same size. The
 * ratio is appends per second over the floor's rows per second; p50/p99 are
 * the latency of one append, from submit to durable acknowledgement.
 *
 * Run: npm run bench -- audit-append   (BENCH_WRITERS, BENCH_APPENDS, BENCH_ROUNDS, BENCH_IN_FLIGHT)
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

/** The floor: the same stored rows, in the same batches, into a table of the same shape, one durable commit each. */
function rawRun(path: string, table: string, run: GroupRun): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // The table exactly as the migrations made it (INTEGER PRIMARY KEY AUTOINCREMENT, UNIQUE id, every index), renamed.
  const schema = db
    .prepare(
      "SELECT sql FROM sqlite_master WHERE tbl_name = 'audit_events' AND sql IS NOT NULL ORDER BY type DESC",
    )
    .all() as { sql: string }[];
  if (schema.length < 5) throw new Error('the audit_events schema was not found');
  for (const { sql } of schema) db.exec(sql.replaceAll('audit_events', table));
  // ...holding what audit_events held when the round began (untimed), so both write into B-trees of the same size
  db.prepare(`INSERT INTO ${table} SELECT * FROM audit_events WHERE seq < ?`).run(run.firstSeq);
  db.pragma('wal_checkpoint(PASSIVE)');
  const rows = db
    .prepare('SELECT * FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT ?')
    .all(run.firstSeq, APPENDS) as Record<string, unknown>[];
  const columns = Object.keys(rows[0] ?? {});
  const insert = db.prepare(
    `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`,
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
  // untimed: the next round's floor starts from the same file size as its group-commit run
  db.exec(`DROP TABLE ${table}`);
  db.close();
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

    const ratios: number[] = [];
    const rates: number[] = [];
    const floors: number[] = [];
    const p50s: number[] = [];
    const p99s: number[] = [];
    const batchMeans: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const run = await groupCommitRun(store);
      const floorSeconds = rawRun(path, `bench_raw_${round}`, run);
      const sorted = [...run.latenciesMs].sort((a, b) => a - b);
      const rate = APPENDS / run.seconds;
      const floor = APPENDS / floorSeconds;
      rates.push(rate);
      floors.push(floor);
      ratios.push(rate / floor);
      p50s.push(percentile(sorted, 50));
      p99s.push(percentile(sorted, 99));
      batchMeans.push(APPENDS / run.batches.length);
      console.log(
        `round ${round}: ${rate.toFixed(0)} appends/s vs raw ${floor.toFixed(0)} rows/s → ${(rate / floor).toFixed(2)}×; ` +
          `p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms; ` +
          `${run.batches.length} commits (mean ${(APPENDS / run.batches.length).toFixed(1)} per commit)`,
      );
    }
    console.log('');
    console.log(
      `| writers | appends | durable appends/s | raw batched insert rows/s | ratio | p50 | p99 | mean batch |`,
    );
    console.log(`| --- | --- | --- | --- | --- | --- | --- | --- |`);
    console.log(
      `| ${WRITERS} | ${APPENDS} | ${median(rates).toFixed(0)} | ${median(floors).toFixed(0)} | **${median(ratios).toFixed(2)}×** | ` +
        `${median(p50s).toFixed(2)} ms | ${median(p99s).toFixed(2)} ms | ${median(batchMeans).toFixed(1)} |`,
    );
    console.log(`(medians of ${ROUNDS} rounds; goal: ratio ≥ 0.8×)`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
