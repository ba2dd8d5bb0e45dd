import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  activity,
  call,
  HOUR,
  MINUTE,
  MONDAY,
  ordered,
  tokenRequest,
} from '../../../test/support/activity-traffic.js';
import type { ActivityEvent } from '../activity-event.js';
import { DetectorEngine } from '../detector-engine.js';
import { DEFAULT_SETTINGS, type DetectorId, type MonitorSettings } from '../settings.js';
import type { Signal } from './detector.js';

const A = 'agt_aaaaaaaaaaaaaaaaaaaaaaaaaa';
const settings: MonitorSettings = {
  ...DEFAULT_SETTINGS,
  learningMs: 2 * HOUR,
  tags: { sensitive: ['hr/*'], egress: ['mail/send', 'web/*'] },
};

function run(events: readonly ActivityEvent[], s: MonitorSettings = settings): Signal[] {
  const engine = new DetectorEngine(s);
  return events.flatMap((e) => engine.process(e));
}
const fired = (signals: readonly Signal[], id: DetectorId) => signals.filter((s) => s.detector === id);

/** Two hours of steady learning (one call every 30 s to `tools`, a token every 5 min, from one address). */
function learningPhase(
  tools: readonly string[] = ['crm/search', 'crm/read'],
  address = '10.0.0.1',
): ActivityEvent[] {
  const out: ActivityEvent[] = [];
  for (let t = MONDAY + 9 * HOUR; t < MONDAY + 11 * HOUR; t += 30_000) {
    out.push(
      call(A, t, tools[(t / 30_000) % tools.length] as string, { sourceAddress: address, bytes: 2000 }),
    );
    if (t % 300_000 === 0) out.push(tokenRequest(A, t, { sourceAddress: address }));
  }
  return out;
}
const AFTER = MONDAY + 11 * HOUR + 5 * MINUTE;

describe('detectors', () => {
  describe('new-resource', () => {
    it('fires on the first use of a tool after learning, once', () => {
      const s = run(
        ordered(learningPhase(), [
          call(A, AFTER, 'crm/search'),
          call(A, AFTER + 1000, 'admin/delete_user'),
          call(A, AFTER + 2000, 'admin/delete_user'),
        ]),
      );
      const found = fired(s, 'new-resource');
      assert.equal(found.length, 1);
      assert.match(found[0]?.title ?? '', /Tool::"admin\/delete_user"/);
      assert.equal(found[0]?.evidence.length, 1);
      assert.equal(found[0]?.severity, 'medium');
    });

    it('does not fire during learning nor for known tools, nor for token requests', () => {
      const events = ordered(
        [call(A, MONDAY + 9 * HOUR, 'x/one'), call(A, MONDAY + 10 * HOUR, 'x/two')],
        learningPhase(),
        [call(A, AFTER, 'x/one'), call(A, AFTER + 1, 'x/two'), tokenRequest(A, AFTER + 2)],
      );
      assert.deepEqual(run(events), []);
    });
  });

  describe('call-rate-spike', () => {
    it('fires when the last minute is far above the learned peak', () => {
      const burst = Array.from({ length: 200 }, (_, i) => call(A, AFTER + i * 200, 'crm/search'));
      const s = fired(run(ordered(learningPhase(), burst)), 'call-rate-spike');
      assert.equal(s.length, 1, 'one signal per spike (cooldown)');
      assert.match(
        s[0]?.explanation ?? '',
        /made 61 calls in the last minute; its learned peak is 2 per minute/,
      );
      assert.equal(s[0]?.evidence.length, 10);
    });

    it('does not fire for a busy but learned rate, nor under the minimum', () => {
      // learned at 40/min, later 100/min: under 3 × 40
      const learned: ActivityEvent[] = [];
      for (let t = MONDAY + 9 * HOUR; t < MONDAY + 11 * HOUR; t += 1500)
        learned.push(call(A, t, 'crm/search'));
      const busy = Array.from({ length: 300 }, (_, i) => call(A, AFTER + i * 600, 'crm/search'));
      assert.deepEqual(fired(run(ordered(learned, busy)), 'call-rate-spike'), []);
      // a quiet agent (2/min) doing 50 in a minute: 25× but under minPerMinute 60
      const quietBurst = Array.from({ length: 50 }, (_, i) => call(A, AFTER + i * 1000, 'crm/search'));
      assert.deepEqual(fired(run(ordered(learningPhase(), quietBurst)), 'call-rate-spike'), []);
    });

    it('does not learn an attack minute as normal', () => {
      const burst = (from: number) =>
        Array.from({ length: 100 }, (_, i) => call(A, from + i * 500, 'crm/search'));
      const s = run(ordered(learningPhase(), burst(AFTER), burst(AFTER + 30 * MINUTE)), {
        ...settings,
        cooldownMs: 60_000,
      });
      assert.equal(fired(s, 'call-rate-spike').length, 2, 'the second burst fires again');
    });
  });

  describe('token-rate-spike', () => {
    it('fires on a burst of token requests and not on the learned renewal rate', () => {
      const burst = Array.from({ length: 40 }, (_, i) => tokenRequest(A, AFTER + i * 1000));
      assert.equal(fired(run(ordered(learningPhase(), burst)), 'token-rate-spike').length, 1);
      const renewals = Array.from({ length: 20 }, (_, i) => tokenRequest(A, AFTER + i * 300_000));
      assert.deepEqual(fired(run(ordered(learningPhase(), renewals)), 'token-rate-spike'), []);
    });
  });

  describe('deny-rate-spike', () => {
    it('fires when an agent is denied again and again (probing)', () => {
      const probing = Array.from({ length: 15 }, (_, i) =>
        call(A, AFTER + i * 5000, 'crm/search', { outcome: 'deny' }),
      );
      const s = fired(run(ordered(learningPhase(), probing)), 'deny-rate-spike');
      assert.equal(s.length, 1);
      assert.match(s[0]?.explanation ?? '', /was denied 10 of 10 calls in the last 300 s \(ratio 1\)/);
      assert.ok(s[0]?.evidence.every((e) => e.outcome === 'deny'));
    });

    it('does not fire for scattered denials or an agent that is usually denied this often', () => {
      const scattered = Array.from({ length: 15 }, (_, i) =>
        call(A, AFTER + i * 60_000, 'crm/search', { outcome: 'deny' }),
      );
      assert.deepEqual(fired(run(ordered(learningPhase(), scattered)), 'deny-rate-spike'), []);
      // an agent denied half the time while learning: 50 % later is its normal
      const sloppy = learningPhase().map((e, i) =>
        e.kind === 'call' && i % 2 === 0 ? { ...e, outcome: 'deny' as const } : e,
      );
      const half = Array.from({ length: 40 }, (_, i) =>
        call(A, AFTER + i * 3000, 'crm/search', { outcome: i % 2 === 0 ? 'deny' : 'allow' }),
      );
      assert.deepEqual(fired(run(ordered(sloppy, half)), 'deny-rate-spike'), []);
    });
  });

  describe('off-hours', () => {
    it('fires for activity at an hour the agent never works, not at its usual hours', () => {
      const night = [call(A, MONDAY + 27 * HOUR, 'crm/search')]; // Tuesday 03:00
      const s = fired(run(ordered(learningPhase(), night)), 'off-hours');
      assert.equal(s.length, 1);
      assert.match(s[0]?.title ?? '', /Tuesday 03:00 UTC/);
      const nextMorning = [
        call(A, MONDAY + 34 * HOUR, 'crm/search'),
        call(A, MONDAY + 35 * HOUR, 'crm/search'),
      ];
      assert.deepEqual(fired(run(ordered(learningPhase(), nextMorning)), 'off-hours'), []);
    });

    it('does not judge an agent with too little history', () => {
      const few = [call(A, MONDAY + 9 * HOUR, 'crm/search'), call(A, MONDAY + 11 * HOUR, 'crm/search')];
      assert.deepEqual(
        fired(run(ordered(few, [call(A, MONDAY + 27 * HOUR, 'crm/search')])), 'off-hours'),
        [],
      );
    });
  });

  describe('concurrent-use', () => {
    it('fires when one token is used from two addresses at once, even while learning', () => {
      const events = ordered([
        call(A, MONDAY + 9 * HOUR, 'crm/search', { tokenId: 'tok-1', sourceAddress: '10.0.0.1' }),
        call(A, MONDAY + 9 * HOUR + 5000, 'crm/search', { tokenId: 'tok-1', sourceAddress: '203.0.113.9' }),
      ]);
      const s = fired(run(events), 'concurrent-use');
      assert.equal(s.length, 1);
      assert.equal(s[0]?.severity, 'critical');
      assert.match(s[0]?.explanation ?? '', /token `tok-1` was used from `10\.0\.0\.1` and `203\.0\.113\.9`/);
      assert.deepEqual(
        s[0]?.evidence.map((e) => e.sourceAddress),
        ['10.0.0.1', '203.0.113.9'],
      );
    });

    it('fires when a credential is used from a new network after learning', () => {
      const s = fired(
        run(
          ordered(learningPhase(), [
            tokenRequest(A, AFTER, { sourceAddress: '10.0.0.1' }),
            tokenRequest(A, AFTER + 2000, { sourceAddress: '198.51.100.7' }),
          ]),
        ),
        'concurrent-use',
      );
      assert.equal(s.length, 1);
      assert.match(s[0]?.explanation ?? '', /credential `key:k1`.*never seen before: `198\.51\.100\.7`/);
    });

    it('does not fire for instances of one agent on usual addresses or their subnet, nor for uses far apart', () => {
      const twoPods = ordered(
        learningPhase(['crm/search'], '10.0.0.1'),
        learningPhase(['crm/search'], '10.0.0.2'),
        [
          tokenRequest(A, AFTER, { sourceAddress: '10.0.0.1' }),
          tokenRequest(A, AFTER + 1000, { sourceAddress: '10.0.0.2' }),
          // a restarted pod with a new address in the same subnet
          tokenRequest(A, AFTER + 2000, { sourceAddress: '10.0.0.77' }),
        ],
      );
      assert.deepEqual(fired(run(twoPods), 'concurrent-use'), []);
      const apart = ordered([
        call(A, MONDAY, 'crm/search', { tokenId: 'tok-2', sourceAddress: '10.0.0.1' }),
        call(A, MONDAY + 5 * MINUTE, 'crm/search', { tokenId: 'tok-2', sourceAddress: '203.0.113.9' }),
      ]);
      assert.deepEqual(fired(run(apart), 'concurrent-use'), []);
      // no address known: nothing to compare
      assert.deepEqual(
        fired(
          run(
            ordered([
              call(A, MONDAY, 'x', { tokenId: 't', sourceAddress: null }),
              call(A, MONDAY + 1, 'x', { tokenId: 't', sourceAddress: null }),
            ]),
          ),
          'concurrent-use',
        ),
        [],
      );
    });
  });

  describe('data-volume-spike', () => {
    it('fires when far more data is returned than the learned peak', () => {
      const bulk = Array.from({ length: 20 }, (_, i) =>
        call(A, AFTER + i * 1000, 'crm/read', { bytes: 5_000_000 }),
      );
      const s = fired(run(ordered(learningPhase(), bulk)), 'data-volume-spike');
      assert.equal(s.length, 1);
      assert.match(s[0]?.explanation ?? '', /received 1[0-9.]+ MiB in the last 300 s/);
    });

    it('does not fire under the minimum or within the learned volume', () => {
      const medium = Array.from({ length: 20 }, (_, i) =>
        call(A, AFTER + i * 1000, 'crm/read', { bytes: 400_000 }),
      );
      assert.deepEqual(fired(run(ordered(learningPhase(), medium)), 'data-volume-spike'), []);
    });
  });

  describe('exfiltration-sequence', () => {
    it('fires on a sensitive read followed by an egress call within the window, even while learning', () => {
      const events = ordered([
        call(A, MONDAY + 9 * HOUR, 'hr/payroll'),
        call(A, MONDAY + 9 * HOUR + 2 * MINUTE, 'web/post'),
      ]);
      const s = fired(run(events), 'exfiltration-sequence');
      assert.equal(s.length, 1);
      assert.deepEqual(
        s[0]?.evidence.map((e) => e.resourceId),
        ['hr/payroll', 'web/post'],
      );
    });

    it('uses the tags a reporter gives, as well as configured patterns', () => {
      const events = ordered([
        call(A, MONDAY, 'files/salaries.xlsx', { tags: ['sensitive'] }),
        call(A, MONDAY + MINUTE, 'slack/post_message', { tags: ['egress'] }),
      ]);
      assert.equal(fired(run(events), 'exfiltration-sequence').length, 1);
    });

    it('does not fire for egress without a sensitive read before it, a read long before, or a denied read', () => {
      const events = ordered([
        call(A, MONDAY, 'mail/send'),
        call(A, MONDAY + MINUTE, 'hr/payroll'),
        call(A, MONDAY + 20 * MINUTE, 'mail/send'),
        call(A, MONDAY + 30 * MINUTE, 'hr/payroll', { outcome: 'deny' }),
        call(A, MONDAY + 31 * MINUTE, 'mail/send'),
        call(A, MONDAY + 40 * MINUTE, 'crm/read'),
        call(A, MONDAY + 41 * MINUTE, 'mail/send'),
      ]);
      assert.deepEqual(fired(run(events), 'exfiltration-sequence'), []);
    });
  });

  it('runs only enabled detectors, and only hard rules while learning', () => {
    const off: MonitorSettings = {
      ...settings,
      detectors: {
        ...settings.detectors,
        'concurrent-use': { ...settings.detectors['concurrent-use'], enabled: false },
      },
    };
    const events = ordered([
      call(A, MONDAY, 'x', { tokenId: 't', sourceAddress: '10.0.0.1' }),
      call(A, MONDAY + 1, 'x', { tokenId: 't', sourceAddress: '203.0.113.1' }),
    ]);
    assert.deepEqual(run(events, off), []);
    const burst = Array.from({ length: 300 }, (_, i) =>
      activity({ agentId: A, at: MONDAY + i * 100, resourceId: `new/${i}` }),
    );
    assert.deepEqual(run(ordered(burst)), [], 'rate and new-resource detectors wait for the learning period');
  });
});
