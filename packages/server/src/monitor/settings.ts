import type { DetectorSettings, ResourceTags, ResponseRule, Severity } from '../config/index.js';
import { DEFAULT_DETECTORS, SEVERITIES } from '../config/index.js';

export type {
  DetectorId,
  DetectorSettings,
  ResourceTags,
  ResponseAction,
  ResponseRule,
  Severity,
} from '../config/index.js';
export { DEFAULT_DETECTORS, DETECTOR_IDS, RESPONSE_ACTIONS, SEVERITIES } from '../config/index.js';

export interface MonitorSettings {
  /** New agents learn for this long (from their first activity); meanwhile only hard rules alert. */
  readonly learningMs: number;
  /** How long learned behaviour takes to fade by half. */
  readonly halfLifeMs: number;
  readonly detectors: DetectorSettings;
  readonly rules: readonly ResponseRule[];
  readonly tags: ResourceTags;
  /** A repeat of a signal within this time updates the open finding without a new alert. */
  readonly cooldownMs: number;
}

const DAY_MS = 86_400_000;

export const DEFAULT_SETTINGS: MonitorSettings = {
  learningMs: 7 * DAY_MS,
  halfLifeMs: 14 * DAY_MS,
  detectors: DEFAULT_DETECTORS,
  rules: [],
  tags: { sensitive: [], egress: [] },
  cooldownMs: 600_000,
};

/** A matcher for glob patterns (`*` matches any run of characters, everything else literally). */
export function globMatcher(patterns: readonly string[]): (value: string) => boolean {
  if (patterns.length === 0) return () => false;
  const source = patterns
    .map((p) =>
      p
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*'),
    )
    .join('|');
  const re = new RegExp(`^(?:${source})$`);
  return (value) => re.test(value);
}

/** Severity order, for rule matching: `low` < `medium` < `high` < `critical`. */
export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);
