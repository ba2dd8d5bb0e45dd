/**
 * The monitor's configuration keys: detector thresholds, response rules and
 * resource tags, validated when the configuration loads (fail fast).
 */
import { ConfigError } from './config-keys.js';

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

/** The stable ids of the detectors; findings, metrics, rules and configuration use them. */
export type DetectorId =
  | 'new-resource'
  | 'call-rate-spike'
  | 'token-rate-spike'
  | 'deny-rate-spike'
  | 'off-hours'
  | 'concurrent-use'
  | 'data-volume-spike'
  | 'exfiltration-sequence';

/** Thresholds of every detector, with the severity its findings carry; each can be turned off. */
export interface DetectorSettings {
  readonly 'new-resource': { enabled: boolean; severity: Severity };
  readonly 'call-rate-spike': {
    enabled: boolean;
    severity: Severity;
    /** Fire when calls in the last minute exceed `factor` × the agent's learned peak minute… */
    factor: number;
    /** …and at least this many. */
    minPerMinute: number;
  };
  readonly 'token-rate-spike': { enabled: boolean; severity: Severity; factor: number; minPerMinute: number };
  readonly 'deny-rate-spike': {
    enabled: boolean;
    severity: Severity;
    /** Denials counted over this sliding window. */
    windowSeconds: number;
    minDenies: number;
    /** The window's deny ratio must reach max(`minRatio`, `factor` × the learned deny ratio). */
    minRatio: number;
    factor: number;
  };
  readonly 'off-hours': {
    enabled: boolean;
    severity: Severity;
    /** Only agents with this much learned activity are judged. */
    minEvents: number;
    /** An hour (± one hour) is usual when it holds at least this share of the learned activity. */
    minShare: number;
  };
  readonly 'concurrent-use': {
    enabled: boolean;
    severity: Severity;
    /** Two addresses using one credential or token within this many seconds count as "at the same time". */
    windowSeconds: number;
  };
  readonly 'data-volume-spike': {
    enabled: boolean;
    severity: Severity;
    windowSeconds: number;
    factor: number;
    minBytes: number;
  };
  readonly 'exfiltration-sequence': {
    enabled: boolean;
    severity: Severity;
    /** An egress call this soon after reading a sensitive resource fires. */
    windowSeconds: number;
  };
}

export const DEFAULT_DETECTORS: DetectorSettings = {
  'new-resource': { enabled: true, severity: 'medium' },
  'call-rate-spike': { enabled: true, severity: 'high', factor: 3, minPerMinute: 60 },
  'token-rate-spike': { enabled: true, severity: 'high', factor: 3, minPerMinute: 20 },
  'deny-rate-spike': {
    enabled: true,
    severity: 'high',
    windowSeconds: 300,
    minDenies: 10,
    minRatio: 0.3,
    factor: 3,
  },
  'off-hours': { enabled: true, severity: 'medium', minEvents: 200, minShare: 0.002 },
  'concurrent-use': { enabled: true, severity: 'critical', windowSeconds: 30 },
  'data-volume-spike': {
    enabled: true,
    severity: 'high',
    windowSeconds: 300,
    factor: 5,
    minBytes: 10 * 1024 * 1024,
  },
  'exfiltration-sequence': { enabled: true, severity: 'critical', windowSeconds: 600 },
};

export const DETECTOR_IDS = Object.keys(DEFAULT_DETECTORS) as DetectorId[];

/** What to do about a finding: tell people, hold the agent's sensitive calls for approval, or stop it. */
export type ResponseAction = 'notify' | 'require_approval' | 'suspend';
export const RESPONSE_ACTIONS: readonly ResponseAction[] = ['notify', 'require_approval', 'suspend'];

/** "Findings of `detector` (or any, `*`) at `minSeverity` or above get `action`." */
export interface ResponseRule {
  readonly detector: DetectorId | '*';
  readonly minSeverity: Severity;
  readonly action: ResponseAction;
}

/** Glob patterns (over resource ids, `*` any run of characters) that put a tag on resources. */
export interface ResourceTags {
  /** Reading these is reading sensitive data. */
  readonly sensitive: readonly string[];
  /** Calling these sends data out (mail, upload, web post…). */
  readonly egress: readonly string[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses JSON text (environment) or takes a YAML value as is. */
function structured(raw: unknown, key: string): unknown {
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new ConfigError(`\`${key}\` must be JSON (or a YAML mapping in the config file)`);
  }
}

/**
 * Per-detector overrides (`{ "call-rate-spike": { "factor": 4 } }`) merged over
 * the defaults. Unknown detectors, unknown fields and values of the wrong type
 * or out of range are refused, naming the key.
 */
export function parseDetectorSettings(raw: unknown, key = 'monitorDetectors'): DetectorSettings {
  const value = structured(raw, key);
  if (!isObject(value)) throw new ConfigError(`\`${key}\` must be a mapping of detector id to settings`);
  const out: Record<string, Record<string, unknown>> = {};
  for (const id of DETECTOR_IDS) out[id] = { ...DEFAULT_DETECTORS[id] };
  for (const [id, overrides] of Object.entries(value)) {
    const defaults = out[id];
    if (!Object.hasOwn(DEFAULT_DETECTORS, id) || !defaults)
      throw new ConfigError(
        `\`${key}\` names an unknown detector \`${id}\` (known: ${DETECTOR_IDS.join(', ')})`,
      );
    if (!isObject(overrides)) throw new ConfigError(`\`${key}.${id}\` must be a mapping`);
    for (const [field, v] of Object.entries(overrides)) {
      const where = `${key}.${id}.${field}`;
      if (!Object.hasOwn(defaults, field)) throw new ConfigError(`unknown setting \`${where}\``);
      const current = defaults[field];
      if (field === 'severity') {
        if (!SEVERITIES.includes(v as Severity))
          throw new ConfigError(`\`${where}\` must be one of ${SEVERITIES.join(', ')}`);
      } else if (typeof current === 'boolean') {
        if (typeof v !== 'boolean') throw new ConfigError(`\`${where}\` must be true or false`);
      } else if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
        throw new ConfigError(`\`${where}\` must be a positive number`);
      }
      defaults[field] = v;
    }
  }
  return out as unknown as DetectorSettings;
}

/**
 * Response rules, as a list of `detector[:minSeverity]=action` strings (or one
 * comma-separated string): `concurrent-use:critical=suspend`, `*:high=notify`.
 * A missing severity means any.
 */
export function parseResponseRules(raw: unknown, key = 'monitorResponseRules'): ResponseRule[] {
  const items =
    typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : Array.isArray(raw) ? raw : null;
  if (!items) throw new ConfigError(`\`${key}\` must be a list of \`detector[:severity]=action\``);
  const rules: ResponseRule[] = [];
  for (const item of items) {
    if (item === '') continue;
    const match = typeof item === 'string' ? /^([a-z*-]+)(?::([a-z]+))?=([a-z_]+)$/.exec(item) : null;
    if (!match)
      throw new ConfigError(`\`${key}\`: \`${String(item)}\` is not \`detector[:severity]=action\``);
    const [, detector, severity, action] = match as unknown as [string, string, string | undefined, string];
    if (detector !== '*' && !DETECTOR_IDS.includes(detector as DetectorId))
      throw new ConfigError(`\`${key}\`: unknown detector \`${detector}\``);
    if (severity !== undefined && !SEVERITIES.includes(severity as Severity))
      throw new ConfigError(`\`${key}\`: unknown severity \`${severity}\``);
    if (!RESPONSE_ACTIONS.includes(action as ResponseAction))
      throw new ConfigError(`\`${key}\`: unknown action \`${action}\` (use ${RESPONSE_ACTIONS.join(', ')})`);
    rules.push({
      detector: detector as DetectorId | '*',
      minSeverity: (severity ?? 'low') as Severity,
      action: action as ResponseAction,
    });
  }
  return rules;
}

/** `{ "sensitive": ["crm/*"], "egress": ["mail/send"] }`. */
export function parseResourceTags(raw: unknown, key = 'monitorResourceTags'): ResourceTags {
  const value = structured(raw, key);
  if (!isObject(value))
    throw new ConfigError(`\`${key}\` must be a mapping with \`sensitive\` and \`egress\``);
  const list = (name: string): string[] => {
    const v = value[name] ?? [];
    if (!Array.isArray(v) || v.some((p) => typeof p !== 'string' || p === '' || p.length > 200))
      throw new ConfigError(`\`${key}.${name}\` must be a list of patterns`);
    return v as string[];
  };
  for (const name of Object.keys(value)) {
    if (name !== 'sensitive' && name !== 'egress')
      throw new ConfigError(`\`${key}\` has an unknown tag \`${name}\` (known: sensitive, egress)`);
  }
  return { sensitive: list('sensitive'), egress: list('egress') };
}

/** Receivers of Security Event Tokens: http(s) URLs, as a list or comma-separated. */
export function parseUrlList(raw: unknown, key: string): string[] {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : null;
  if (!items) throw new ConfigError(`\`${key}\` must be a list of URLs`);
  return items
    .map((item) => String(item).trim())
    .filter((item) => item !== '')
    .map((item) => {
      let url: URL;
      try {
        url = new URL(item);
      } catch {
        throw new ConfigError(`\`${key}\` has an invalid URL \`${item}\``);
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:')
        throw new ConfigError(`\`${key}\`: \`${item}\` is not an http(s) URL`);
      return item;
    });
}
