/**
 * Synthetic agent activity for the monitor's tests and benchmark: agents with
 * working hours, tool sets, several instances (each with its own tokens and
 * address), Poisson call arrivals with busy hours, background denials and
 * response sizes; and helpers to inject incidents. Deterministic (seeded).
 */
import type { ActivityEvent } from '../../src/monitor/index.js';
import { resourceText } from '../../src/monitor/index.js';

export const HOUR = 3_600_000;
export const MINUTE = 60_000;
export const DAY = 24 * HOUR;
/** Monday 2026-03-02 00:00 UTC. */
export const MONDAY = Date.UTC(2026, 2, 2);

/** mulberry32: a small, fast, seeded PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Poisson-distributed count with mean `mean` (Knuth for small means, normal approximation above). */
export function poisson(random: () => number, mean: number): number {
  if (mean > 50) {
    const u = Math.max(1e-12, random());
    const v = random();
    return Math.max(
      0,
      Math.round(mean + Math.sqrt(mean) * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)),
    );
  }
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= random();
  } while (p > l);
  return k - 1;
}

export interface AgentProfile {
  readonly id: string;
  /** Resource ids of tools it calls (type `Tool`). */
  readonly tools: readonly string[];
  /** Active UTC hours [from, to). */
  readonly hours: readonly [number, number];
  readonly weekdaysOnly: boolean;
  /** Mean calls per active hour (over all instances). */
  readonly callsPerHour: number;
  /** One address per instance; each instance holds its own token, renewed every ~5 minutes. */
  readonly addresses: readonly string[];
  readonly denyRatio: number;
  /** Mean bytes per response. */
  readonly bytesMean: number;
  readonly onBehalfOf?: string;
}

let seq = 0;
/** Sequence numbers are global, like the audit log's. */
export function nextSeq(): number {
  return ++seq;
}

/** One activity event with defaults; the tests set what matters. */
export function activity(fields: Partial<ActivityEvent> & { agentId: string; at: number }): ActivityEvent {
  const resourceId = fields.resourceId ?? null;
  return {
    seq: nextSeq(),
    kind: 'call',
    action: 'tools/call',
    resource: resourceId === null ? null : resourceText('Tool', resourceId),
    resourceId,
    outcome: 'allow',
    sourceAddress: '10.0.0.1',
    credential: 'key:k1',
    tokenId: null,
    onBehalfOf: null,
    bytes: 0,
    tags: [],
    origin: 'activity.report',
    ...fields,
  };
}

/** A call to `tool` by `agentId` at `at`. */
export function call(
  agentId: string,
  at: number,
  tool: string,
  extra: Partial<ActivityEvent> = {},
): ActivityEvent {
  return activity({ agentId, at, resourceId: tool, resource: resourceText('Tool', tool), ...extra });
}

/** A token request by `agentId` at `at`. */
export function tokenRequest(agentId: string, at: number, extra: Partial<ActivityEvent> = {}): ActivityEvent {
  return activity({
    agentId,
    at,
    kind: 'token',
    action: 'token:issue',
    resource: null,
    resourceId: null,
    origin: 'token.issue',
    ...extra,
  });
}

/** `days` days of normal traffic of `profile` from `start`, in time order (sequence numbers unset: see `ordered`). */
export function generate(profile: AgentProfile, start: number, days: number, seed: number): ActivityEvent[] {
  const random = rng(seed);
  const out: ActivityEvent[] = [];
  const instances = profile.addresses.length;
  for (let h = 0; h < days * 24; h++) {
    const hourStart = start + h * HOUR;
    const hourOfDay = new Date(hourStart).getUTCHours();
    const weekday = (new Date(hourStart).getUTCDay() + 6) % 7; // Monday = 0
    const [from, to] = profile.hours;
    if (hourOfDay < from || hourOfDay >= to) continue;
    if (profile.weekdaysOnly && weekday >= 5) continue;
    // hour-to-hour variation, and now and then a busy hour
    const busy = random() < 0.05 ? 2 : 1;
    const mean = profile.callsPerHour * (0.6 + 0.8 * random()) * busy;
    for (let i = 0; i < instances; i++) {
      const address = profile.addresses[i] as string;
      // tokens: one every ~5 minutes per instance while working
      for (
        let t = hourStart + Math.floor(random() * 60_000);
        t < hourStart + HOUR;
        t += 280_000 + Math.floor(random() * 20_000)
      ) {
        out.push(
          tokenRequest(profile.id, t, {
            sourceAddress: address,
            tokenId: `${profile.id}-${i}-${Math.floor(t / 300_000)}`,
          }),
        );
      }
      const n = poisson(random, mean / instances);
      for (let c = 0; c < n; c++) {
        const at = hourStart + Math.floor(random() * HOUR);
        const tool = profile.tools[Math.floor(random() * profile.tools.length)] as string;
        const denied = random() < profile.denyRatio;
        out.push(
          call(profile.id, at, tool, {
            sourceAddress: address,
            tokenId: `${profile.id}-${i}-${Math.floor(at / 300_000)}`,
            outcome: denied ? 'deny' : 'allow',
            bytes: denied
              ? 0
              : Math.max(1, Math.round(profile.bytesMean * -Math.log(Math.max(1e-9, random())))),
            onBehalfOf: profile.onBehalfOf ?? null,
          }),
        );
      }
    }
  }
  return out;
}

/** Merges event lists into time order and renumbers them as the audit log would (seq ascending). */
export function ordered(...lists: readonly (readonly ActivityEvent[])[]): ActivityEvent[] {
  const all = lists.flat().sort((a, b) => a.at - b.at || a.seq - b.seq);
  return all.map((e, i) => ({ ...e, seq: i + 1 }));
}
