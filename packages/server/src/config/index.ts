export type { Config, LogLevel } from './config-keys.js';
export { ConfigError, KEYS } from './config-keys.js';
export type { ConfigSources } from './load-config.js';
export { insecureSettings, loadConfig } from './load-config.js';
export { loadMasterKey } from './master-key.js';
