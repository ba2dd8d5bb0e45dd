import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../test/support/databases.js';
import { type Clock, manualClock, newId, systemClock } from '../core/index.js';
import { openStore, type Store } from '../storage/index.js';
import { AuditForwarder, type ForwarderSettings, signDelivery } from './audit-forwarder.js';
import { recordAuditEvent, SYSTEM_ACTOR } from './record-audit-event.js';

const SECRET = 'sink-secret-0123456789abcdef';
const logger = pino({ level: 'silent' });

interface Delivery {
  readonly seqs: number[];
  readonly signature: string;
  readonly body: string;
  readonly delivery: string;
}

/** A webhook receiver on loopback that records deliveries; `answer` decides each status. */
async function receiver(answer: (d: Delivery, n: number) => number) {
  const deliveries: Delivery[] = [];
  const accepted: number[] = [];
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => resolve(body));
    });
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    const parsed = JSON.parse(body) as { events: { seq: number }[] };
    const d: Delivery = {
      seqs: parsed.events.map((e) => e.seq),
      signature: String(req.headers['x-custos-signature']),
      body,
      delivery: String(req.headers['x-custos-delivery']),
    };
    deliveries.push(d);
    const status = answer(d, deliveries.length);
    if (status < 300) accepted.push(...d.seqs);
    res.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/audit`;
  return { url, deliveries, accepted, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Checks a signature header as a receiver would: HMAC-SHA256 of `<t>.<body>`. */
function validSignature(header: string, body: string, secret: string): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match) return false;
  const expected = createHmac('sha256', secret).update(`${match[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(match[2] as string, 'hex'));
}

async function waitFor(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function appendEvents(store: Store, clock: Clock, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await store.transaction((tx) =>
      recordAuditEvent(tx, clock, SYSTEM_ACTOR, {
        action: 'test.event',
        target: { type: 'test', id: newId('evt', clock.now()) },
      }),
    );
  }
}

const settings = (url: string, extra: Partial<ForwarderSettings> = {}): ForwarderSettings => ({
  name: 'webhook',
  url,
  secret: SECRET,
  format: 'json',
  batchSize: 7,
  intervalMs: 20,
  productVersion: 'test',
  ...extra,
});

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

for (const dialect of DIALECTS) {
  describe(`AuditForwarder (${dialect})`, () => {
    let db: TestDatabase;
    let store: Store;
    before(async () => {
      db = await createTestDatabase(dialect);
      store = await openStore(db.url, { migrate: true });
    });
    after(async () => {
      await store.close();
      await db.drop();
    });

    it('delivers every event in order, signed, retrying a failing receiver, and survives restarts', async () => {
      await appendEvents(store, systemClock, 20);
      // the receiver is down for its first three requests
      const sink = await receiver((_d, n) => (n <= 3 ? 503 : 204));
      const first = new AuditForwarder({ store, clock: systemClock, logger }, settings(sink.url));
      first.start();
      await waitFor(() => sink.accepted.length >= 20, 'the first 20 events');
      await first.stop();
      assert.deepEqual(sink.accepted, range(1, 20));
      assert.equal(sink.deliveries.filter((d) => d.seqs.length > 7).length, 0, 'batches hold at most 7');
      for (const d of sink.deliveries) {
        assert.ok(validSignature(d.signature, d.body, SECRET), 'signed with the sink secret');
        assert.ok(!validSignature(d.signature, d.body, `${SECRET}x`), 'not valid under another secret');
        assert.equal(d.delivery, `webhook:${d.seqs[0]}-${d.seqs[d.seqs.length - 1]}`);
      }
      assert.equal((await store.auditLog.listSinks())[0]?.cursor, 20);

      // events appended while no forwarder runs are delivered by the next one, from the cursor
      await appendEvents(store, systemClock, 10);
      const second = new AuditForwarder({ store, clock: systemClock, logger }, settings(sink.url));
      second.start();
      await waitFor(() => sink.accepted.length >= 30, 'events 21–30');
      await second.stop();
      assert.deepEqual(sink.accepted, range(1, 30));
      await sink.close();
    });

    it('re-sends a delivery whose acknowledgement was lost (at least once, never a gap)', async () => {
      const start = (await store.auditLog.head()).seq;
      await appendEvents(store, systemClock, 5);
      // the receiver stores the first delivery but answers 500: it must come again
      const seen: number[] = [];
      const sink = await receiver((d, n) => {
        seen.push(...d.seqs);
        return n === 1 ? 500 : 200;
      });
      const forwarder = new AuditForwarder(
        { store, clock: systemClock, logger },
        settings(sink.url, { name: 'lossy', batchSize: 100 }),
      );
      forwarder.start();
      await waitFor(() => sink.accepted.length >= 5 + start, 'the redelivery');
      await forwarder.stop();
      assert.deepEqual(sink.accepted, range(1, start + 5));
      assert.deepEqual([...new Set(seen)], range(1, start + 5));
      const [a, b] = sink.deliveries;
      assert.deepEqual(a?.seqs, b?.seqs, 'the same batch again');
      await sink.close();
    });

    it('lets one node forward at a time; another takes over when its lease lapses', async () => {
      const clock = manualClock(Date.now());
      const sink = await receiver(() => 200);
      const nodeA = new AuditForwarder({ store, clock, logger }, settings(sink.url, { name: 'leased' }));
      const nodeB = new AuditForwarder({ store, clock, logger }, settings(sink.url, { name: 'leased' }));
      await nodeA.tick();
      const head = (await store.auditLog.head()).seq;
      assert.equal(sink.accepted.length, head);
      await appendEvents(store, clock, 3);
      await nodeB.tick(); // A holds the lease: B does nothing
      assert.equal(sink.accepted.length, head);
      // A crashes (never releases); after the lease lapses, B resumes from the stored cursor
      clock.advance(31_000);
      await nodeB.tick();
      assert.deepEqual(sink.accepted, range(1, head + 3));
      await nodeB.stop();
      await sink.close();
    });

    it('sends OCSF when configured', async () => {
      const sink = await receiver(() => 200);
      const forwarder = new AuditForwarder(
        { store, clock: systemClock, logger },
        settings(sink.url, { name: 'ocsf', format: 'ocsf', batchSize: 500 }),
      );
      await forwarder.tick();
      await forwarder.stop();
      const body = JSON.parse(sink.deliveries[0]?.body ?? '{}') as {
        format: string;
        events: { class_uid: number; metadata: { sequence: number } }[];
      };
      assert.equal(body.format, 'ocsf');
      assert.equal(body.events[0]?.class_uid, 6003);
      assert.equal(body.events[0]?.metadata.sequence, 1);
      await sink.close();
    });
  });
}

describe('signDelivery', () => {
  it('is an HMAC-SHA256 over the timestamp and body', () => {
    const header = signDelivery('k'.repeat(16), '{"a":1}', 1_700_000_000);
    const mac = createHmac('sha256', 'k'.repeat(16)).update('1700000000.{"a":1}').digest('hex');
    assert.equal(header, `t=1700000000,v1=${mac}`);
  });
});
