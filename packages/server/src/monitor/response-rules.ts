import type { Signal } from './detectors/index.js';
import { type ResponseAction, type ResponseRule, severityRank } from './settings.js';

const STRENGTH: Readonly<Record<ResponseAction, number>> = { notify: 0, require_approval: 1, suspend: 2 };

/**
 * The action for a finding: the strongest of the rules that match its detector
 * (or `*`) at its severity or above; `notify` when none does. Pure.
 */
export function responseFor(
  rules: readonly ResponseRule[],
  s: Pick<Signal, 'detector' | 'severity'>,
): {
  action: ResponseAction;
  rule: ResponseRule | null;
} {
  let best: ResponseRule | null = null;
  for (const rule of rules) {
    if (rule.detector !== '*' && rule.detector !== s.detector) continue;
    if (severityRank(s.severity) < severityRank(rule.minSeverity)) continue;
    if (!best || STRENGTH[rule.action] > STRENGTH[best.action]) best = rule;
  }
  return { action: best?.action ?? 'notify', rule: best };
}

/** A rule as text, the way it is configured (`concurrent-use:critical=suspend`). */
export function ruleText(rule: ResponseRule): string {
  return `${rule.detector}:${rule.minSeverity}=${rule.action}`;
}
