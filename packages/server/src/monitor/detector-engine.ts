import type { ActivityEvent } from './activity-event.js';
import { AgentState } from './agent-state.js';
import { Baseline, type BaselineData } from './baseline.js';
import { DETECTORS, type ResourceClassifier, type Signal } from './detectors/index.js';
import { globMatcher, type MonitorSettings } from './settings.js';

const MAX_CLASSIFIED = 10_000;

/** Tags of resources: the reporter's own (`tags` on the event) or the configured patterns, cached per resource. */
export function resourceClassifier(settings: MonitorSettings): ResourceClassifier {
  const sensitiveMatch = globMatcher(settings.tags.sensitive);
  const egressMatch = globMatcher(settings.tags.egress);
  const cache = new Map<string, number>();
  const bits = (e: ActivityEvent): number => {
    if (e.resourceId === null) return 0;
    let b = cache.get(e.resourceId);
    if (b === undefined) {
      b = (sensitiveMatch(e.resourceId) ? 1 : 0) | (egressMatch(e.resourceId) ? 2 : 0);
      if (cache.size >= MAX_CLASSIFIED) cache.clear();
      cache.set(e.resourceId, b);
    }
    return b;
  };
  return {
    sensitive: (e) => e.tags.includes('sensitive') || (bits(e) & 1) !== 0,
    egress: (e) => e.tags.includes('egress') || (bits(e) & 2) !== 0,
  };
}

/**
 * Runs the detectors over a stream of activity, in memory and synchronously:
 * for each event, the agent's windows take it in, the detectors look (only
 * hard rules while the agent is learning), then the baseline learns it.
 * Repeats of a signal within the cooldown are dropped here, so a sustained
 * spike costs one finding write, not one per event. Deterministic: the same
 * events give the same signals (time comes from the events).
 */
export class DetectorEngine {
  private readonly agents = new Map<string, AgentState>();
  private readonly classify: ResourceClassifier;
  private readonly enabled;

  constructor(
    private readonly settings: MonitorSettings,
    baselines: Iterable<readonly [string, BaselineData]> = [],
  ) {
    this.classify = resourceClassifier(settings);
    this.enabled = DETECTORS.filter((d) => settings.detectors[d.id].enabled);
    for (const [agentId, data] of baselines) {
      this.agents.set(agentId, new AgentState(agentId, new Baseline(data.firstAt, data), settings));
    }
  }

  private agent(e: ActivityEvent): AgentState {
    let state = this.agents.get(e.agentId);
    if (!state) {
      state = AgentState.fresh(e.agentId, e.at, this.settings);
      this.agents.set(e.agentId, state);
    }
    return state;
  }

  /** Takes in one event; returns the signals it raised (usually none). */
  process(e: ActivityEvent): Signal[] {
    const agent = this.agent(e);
    agent.record(e);
    const learning = agent.learning(e.at, this.settings);
    let out: Signal[] | null = null;
    const ctx = { event: e, agent, learning, settings: this.settings, classify: this.classify };
    for (const detector of this.enabled) {
      if (learning && !detector.hard) continue;
      const s = detector.detect(ctx);
      if (s === null) continue;
      const last = agent.fired.get(s.key);
      if (last !== undefined && s.at - last < this.settings.cooldownMs && s.at >= last) continue;
      agent.fired.set(s.key, s.at);
      if (out === null) out = [];
      out.push(s);
    }
    this.after(agent, e, learning);
    return out ?? [];
  }

  /** Takes in an event without detecting (replaying what the persisted baseline missed). */
  learnOnly(e: ActivityEvent): void {
    const agent = this.agent(e);
    agent.record(e);
    this.after(agent, e, agent.learning(e.at, this.settings));
  }

  private after(agent: AgentState, e: ActivityEvent, learning: boolean): void {
    if (e.kind !== 'token' && e.outcome === 'allow' && this.classify.sensitive(e)) agent.lastSensitive = e;
    agent.learn(e, this.settings, learning);
    if (agent.fired.size > 256) {
      for (const [key, at] of agent.fired) if (e.at - at > this.settings.cooldownMs) agent.fired.delete(key);
    }
  }

  /** The baseline of an agent, if it has been seen. */
  baseline(agentId: string): Baseline | null {
    return this.agents.get(agentId)?.baseline ?? null;
  }

  /** Whether the agent is learning as of `at` (true for an agent never seen). */
  learning(agentId: string, at: number): boolean {
    return this.agents.get(agentId)?.learning(at, this.settings) ?? true;
  }

  /** Baselines changed since `markClean`, for persisting. */
  *dirty(): Generator<[string, Baseline]> {
    for (const [id, state] of this.agents) if (state.baseline.dirty) yield [id, state.baseline];
  }

  /** Whether any baseline changed since `markClean`. */
  hasDirty(): boolean {
    for (const state of this.agents.values()) if (state.baseline.dirty) return true;
    return false;
  }

  markClean(ids: readonly string[]): void {
    for (const id of ids) {
      const state = this.agents.get(id);
      if (state) state.baseline.dirty = false;
    }
  }

  /** Forgets an agent's baseline and windows (an admin reset; the next activity starts a new learning period). */
  forget(agentId: string): void {
    this.agents.delete(agentId);
  }
}
