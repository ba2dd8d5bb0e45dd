export type { Config, LogLevel } from './config-keys.js';
export { ConfigError, KEYS } from './config-keys.js';
export type { ConfigSources } from './load-config.js';
export { insecureSettings, loadConfig } from './load-config.js';
export { loadMasterKey } from './master-key.js';
export type {
  DetectorId,
  DetectorSettings,
  ResourceTags,
  ResponseAction,
  ResponseRule,
  Severity,
} from './monitor-keys.js';
export {
  DEFAULT_DETECTORS,
  DETECTOR_IDS,
  parseDetectorSettings,
  parseResourceTags,
  parseResponseRules,
  RESPONSE_ACTIONS,
  SEVERITIES,
} from './monitor-keys.js';
