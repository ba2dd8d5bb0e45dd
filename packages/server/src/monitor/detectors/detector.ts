import type { ActivityEvent } from '../activity-event.js';
import type { AgentState } from '../agent-state.js';
import type { DetectorId, MonitorSettings, Severity } from '../settings.js';

/** What the engine knows about resources beyond the event: their tags (from config or the reporter). */
export interface ResourceClassifier {
  sensitive(e: ActivityEvent): boolean;
  egress(e: ActivityEvent): boolean;
}

/** Everything a detector may look at for one event; the windows already include the event. */
export interface DetectContext {
  readonly event: ActivityEvent;
  readonly agent: AgentState;
  /** True while the agent is in its learning period (only hard rules are asked then). */
  readonly learning: boolean;
  readonly settings: MonitorSettings;
  readonly classify: ResourceClassifier;
}

/** What a detector saw: the stuff of a finding. */
export interface Signal {
  readonly detector: DetectorId;
  readonly severity: Severity;
  readonly agentId: string;
  /** Repeats with the same key update one open finding instead of raising another. */
  readonly key: string;
  readonly title: string;
  /** Why it fired, with the numbers it compared. */
  readonly explanation: string;
  /** The events that show it, oldest first. */
  readonly evidence: readonly ActivityEvent[];
  readonly at: number;
}

/**
 * A detector: a plain function of one event and the agent's state. `hard`
 * rules need no baseline and are asked during the learning period too.
 */
export interface Detector {
  readonly id: DetectorId;
  readonly hard: boolean;
  detect(ctx: DetectContext): Signal | null;
}

/** Builds a signal with the detector's configured severity. */
export function signal(
  ctx: DetectContext,
  id: DetectorId,
  fields: { key: string; title: string; explanation: string; evidence: readonly ActivityEvent[] },
): Signal {
  return {
    detector: id,
    severity: ctx.settings.detectors[id].severity,
    agentId: ctx.agent.agentId,
    at: ctx.event.at,
    ...fields,
  };
}

/** A number for an explanation: integers as is, others with two decimals. */
export const num = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(2));
