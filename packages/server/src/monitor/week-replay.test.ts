import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AgentProfile,
  call,
  DAY,
  generate,
  HOUR,
  MINUTE,
  MONDAY,
  ordered,
  tokenRequest,
} from '../../test/support/activity-traffic.js';
import type { ActivityEvent } from './activity-event.js';
import { DetectorEngine } from './detector-engine.js';
import type { Signal } from './detectors/index.js';
import { DEFAULT_SETTINGS, type MonitorSettings } from './settings.js';

const id = (name: string) => `agt_${name.padEnd(26, '0')}`;
const SUPPORT = id('support');
const HR = id('hr');
const ETL = id('etl');
const BILLING = id('billing');
const OPS = id('ops');
const SALES = id('sales');
const REPORT = id('report');
const ANALYTICS = id('analytics');
const SCHEDULER = id('scheduler');

const weekday = { hours: [8, 18] as const, weekdaysOnly: true };
const always = { hours: [0, 24] as const, weekdaysOnly: false };
const PROFILES: AgentProfile[] = [
  {
    id: SUPPORT,
    tools: ['crm/search', 'crm/read', 'mail/send', 'tickets/update'],
    ...weekday,
    callsPerHour: 300,
    addresses: ['10.1.0.5', '10.1.0.6'],
    denyRatio: 0.02,
    bytesMean: 4000,
    onBehalfOf: 'usr_support_desk',
  },
  {
    id: HR,
    tools: ['hr/payroll', 'hr/directory', 'docs/search'],
    ...weekday,
    callsPerHour: 60,
    addresses: ['10.2.0.5'],
    denyRatio: 0.01,
    bytesMean: 20_000,
  },
  {
    id: ETL,
    tools: ['db/query', 's3/put', 's3/list'],
    ...always,
    callsPerHour: 1200,
    addresses: ['10.3.0.5', '10.3.0.6', '10.3.0.7'],
    denyRatio: 0.005,
    bytesMean: 200_000,
  },
  {
    id: BILLING,
    tools: ['billing/charge', 'billing/refund', 'billing/lookup'],
    ...always,
    callsPerHour: 120,
    addresses: ['10.4.0.5'],
    denyRatio: 0.01,
    bytesMean: 1500,
  },
  {
    id: OPS,
    tools: ['k8s/get_pods', 'k8s/logs'],
    hours: [9, 17],
    weekdaysOnly: true,
    callsPerHour: 90,
    addresses: ['10.5.0.5'],
    denyRatio: 0.01,
    bytesMean: 30_000,
  },
  {
    id: SALES,
    tools: ['crm/search', 'crm/update'],
    hours: [8, 20],
    weekdaysOnly: true,
    callsPerHour: 120,
    addresses: ['10.6.0.5'],
    denyRatio: 0.03,
    bytesMean: 3000,
  },
  {
    id: REPORT,
    tools: ['reports/run'],
    hours: [9, 17],
    weekdaysOnly: true,
    callsPerHour: 40,
    addresses: ['10.7.0.5'],
    denyRatio: 0,
    bytesMean: 80_000,
  },
  {
    id: ANALYTICS,
    tools: ['warehouse/query'],
    ...always,
    callsPerHour: 200,
    addresses: ['10.8.0.5'],
    denyRatio: 0.01,
    bytesMean: 50_000,
  },
  {
    id: SCHEDULER,
    tools: ['cron/run'],
    ...always,
    callsPerHour: 30,
    addresses: ['10.9.0.5'],
    denyRatio: 0,
    bytesMean: 500,
  },
];

const settings: MonitorSettings = {
  ...DEFAULT_SETTINGS,
  learningMs: 2 * DAY,
  tags: { sensitive: ['hr/*'], egress: ['mail/send', 'web/*'] },
};

const WED = MONDAY + 2 * DAY;
const THU = MONDAY + 3 * DAY;
const FRI = MONDAY + 4 * DAY;
const SAT = MONDAY + 5 * DAY;
const times = (n: number, from: number, step: number) => Array.from({ length: n }, (_, i) => from + i * step);

/** The incidents, each with the detectors (and agent) it must raise. */
const INCIDENTS: { name: string; events: ActivityEvent[]; expect: string[] }[] = [
  {
    name: 'ops-bot runs a tool it never used, 150 times in a minute',
    events: times(150, WED + 11 * HOUR, 400).map((t) =>
      call(OPS, t, 'k8s/exec', { sourceAddress: '10.5.0.5' }),
    ),
    expect: [`new-resource ${OPS}`, `call-rate-spike ${OPS}`],
  },
  {
    name: 'scheduler-bot requests 60 tokens in a minute',
    events: times(60, WED + 15 * HOUR, 1000).map((t) =>
      tokenRequest(SCHEDULER, t, { sourceAddress: '10.9.0.5' }),
    ),
    expect: [`token-rate-spike ${SCHEDULER}`],
  },
  {
    name: "billing-bot's token is replayed from an unknown address",
    events: (() => {
      const at = THU + 14 * HOUR;
      const token = `${BILLING}-0-${Math.floor(at / 300_000)}`;
      return [
        call(BILLING, at, 'billing/lookup', { tokenId: token, sourceAddress: '10.4.0.5' }),
        ...times(5, at + 5000, 2000).map((t) =>
          call(BILLING, t, 'billing/refund', { tokenId: token, sourceAddress: '203.0.113.50' }),
        ),
      ];
    })(),
    expect: [`concurrent-use ${BILLING}`],
  },
  {
    name: 'sales-bot is denied 30 times in two minutes (probing)',
    events: times(30, THU + 15 * HOUR, 4000).map((t, i) =>
      call(SALES, t, i % 2 ? 'crm/update' : 'crm/search', { outcome: 'deny', sourceAddress: '10.6.0.5' }),
    ),
    expect: [`deny-rate-spike ${SALES}`],
  },
  {
    name: 'hr-bot reads payroll, then posts to the web',
    events: [
      call(HR, FRI + 10 * HOUR, 'hr/payroll', { sourceAddress: '10.2.0.5' }),
      call(HR, FRI + 10 * HOUR + MINUTE, 'web/post', { sourceAddress: '10.2.0.5' }),
    ],
    expect: [`exfiltration-sequence ${HR}`, `new-resource ${HR}`],
  },
  {
    name: 'analytics-bot pulls 320 MB in two minutes',
    events: times(40, FRI + 16 * HOUR, 3000).map((t) =>
      call(ANALYTICS, t, 'warehouse/query', { bytes: 8_000_000, sourceAddress: '10.8.0.5' }),
    ),
    expect: [`data-volume-spike ${ANALYTICS}`],
  },
  {
    name: 'report-bot works on Saturday at 03:00',
    events: times(5, SAT + 3 * HOUR, 60_000).map((t) =>
      call(REPORT, t, 'reports/run', { sourceAddress: '10.7.0.5' }),
    ),
    expect: [`off-hours ${REPORT}`],
  },
];

describe('a week of synthetic traffic for nine agents', () => {
  const normal = PROFILES.map((p, i) => generate(p, MONDAY, 7, 1000 + i));

  it('raises nothing on normal traffic alone (false-positive check)', () => {
    const engine = new DetectorEngine(settings);
    const events = ordered(...normal);
    assert.ok(events.length > 200_000, `a busy week (${events.length} events)`);
    const signals = events.flatMap((e) => engine.process(e));
    assert.deepEqual(
      signals.map((s) => `${s.detector} ${s.agentId} at ${new Date(s.at).toISOString()}: ${s.explanation}`),
      [],
    );
  });

  it('raises exactly the injected incidents, each when it happens', () => {
    const engine = new DetectorEngine(settings);
    const events = ordered(...normal, ...INCIDENTS.map((i) => i.events));
    const signals: Signal[] = events.flatMap((e) => engine.process(e));
    const got = [...new Set(signals.map((s) => `${s.detector} ${s.agentId}`))].sort();
    assert.deepEqual(got, INCIDENTS.flatMap((i) => i.expect).sort());
    for (const incident of INCIDENTS) {
      const start = Math.min(...incident.events.map((e) => e.at));
      for (const expected of incident.expect) {
        const s = signals.find((x) => `${x.detector} ${x.agentId}` === expected);
        assert.ok(s, `${incident.name}: ${expected}`);
        assert.ok(s.at >= start && s.at <= start + 3 * MINUTE, `${incident.name}: raised at its time`);
        assert.ok(s.evidence.length > 0 && s.evidence.every((e) => e.agentId === s.agentId));
      }
    }
  });
});
