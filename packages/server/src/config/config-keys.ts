import {
  type DetectorSettings,
  parseDetectorSettings,
  parseResourceTags,
  parseResponseRules,
  parseUrlList,
  type ResourceTags,
  type ResponseRule,
} from './monitor-keys.js';

/**
 * Every configuration key, with where it comes from and what it means. Sources,
 * lowest precedence first: built-in default, the YAML file (`custos.yaml`, or
 * `--config` / `CUSTOS_CONFIG`), environment variables, command-line flags.
 */
export interface Config {
  /** Interface to listen on. Default `127.0.0.1` (loopback only). Env `CUSTOS_HOST`, flag `--host`. */
  readonly host: string;
  /** TCP port. Default `8080`. Env `CUSTOS_PORT`, flag `--port`. */
  readonly port: number;
  /** Directory for the SQLite database and master key file. Default `./.custos`. Env `CUSTOS_DATA_DIR`, flag `--data-dir`. */
  readonly dataDir: string;
  /** `sqlite:<path>` or `postgres://…` (a `schema=` parameter selects a schema). Default SQLite in the data dir. Env `CUSTOS_DATABASE_URL`, flag `--database-url`. */
  readonly databaseUrl: string;
  /** Public base URL (OAuth issuer). Default `http://<host>:<port>`. Env `CUSTOS_ISSUER`, flag `--issuer`. */
  readonly issuer: string;
  /** Master key, base64 of 32 bytes. Environment only (`CUSTOS_MASTER_KEY`), never in the file. */
  readonly masterKey: string | null;
  /** Previous master keys (comma-separated, base64 or hex), still accepted for unsealing during a rotation. Environment only (`CUSTOS_MASTER_KEY_PREVIOUS`). */
  readonly masterKeyPrevious: readonly string[];
  /** Master key file used when `masterKey` is unset; created with mode 0600. Default `<dataDir>/master.key`. Env `CUSTOS_MASTER_KEY_FILE`. */
  readonly masterKeyFile: string;
  /** On first start with an empty database, this `cst_pat_…` token becomes an admin token. Env `CUSTOS_BOOTSTRAP_TOKEN`. */
  readonly bootstrapToken: string | undefined;
  /** `fatal|error|warn|info|debug|trace|silent`. Default `info`. Env `CUSTOS_LOG_LEVEL`, flag `--log-level`. */
  readonly logLevel: LogLevel;
  /** Largest request body accepted, in bytes. Default 65536. Env `CUSTOS_BODY_LIMIT`. */
  readonly bodyLimit: number;
  /** Lifetime of an agent created without `expiresAt`, in days. Default 90. Env `CUSTOS_AGENT_DEFAULT_TTL_DAYS`. */
  readonly agentDefaultTtlDays: number;
  /** Lifetime of an admin token created without `expiresAt`, in days. Default 90. Env `CUSTOS_ADMIN_TOKEN_TTL_DAYS`. */
  readonly adminTokenTtlDays: number;
  /** Access token lifetime in seconds; 60..3600. Default 300. Env `CUSTOS_ACCESS_TOKEN_TTL`. */
  readonly accessTokenTtl: number;
  /** Clock leeway for time claims of inbound JWTs, in seconds; 0..300. Default 30. Env `CUSTOS_CLOCK_LEEWAY`. */
  readonly clockLeeway: number;
  /** Most agents a delegation chain may hold (token exchange: `act` nesting); 1..10. Default 3. Env `CUSTOS_DELEGATION_MAX_DEPTH`. */
  readonly delegationMaxDepth: number;
  /** How long an approval request, and its reference once approved, stays usable, in seconds; 1..86400. Default 900. Env `CUSTOS_APPROVAL_TTL`. */
  readonly approvalTtl: number;
  /** Longest accepted client-assertion lifetime (`exp` − `iat`), in seconds. Default 300. Env `CUSTOS_ASSERTION_MAX_LIFETIME`. */
  readonly assertionMaxLifetime: number;
  /** Signing algorithm of new keys: `ES256` (default) or `EdDSA`. Env `CUSTOS_SIGNING_ALG`. */
  readonly signingAlg: 'ES256' | 'EdDSA';
  /** Rotate the signing key automatically after this many days; 0 turns it off. Default 30. Env `CUSTOS_KEY_ROTATION_DAYS`. */
  readonly keyRotationDays: number;
  /** Require a server-provided DPoP nonce (RFC 9449 §8). Default false. Env `CUSTOS_DPOP_NONCE`. */
  readonly dpopNonce: boolean;
  /** Accepted age of a DPoP proof (`iat`), in seconds. Default 60. Env `CUSTOS_DPOP_MAX_AGE`. */
  readonly dpopMaxAge: number;
  /** Signed audit checkpoint after this many events. Default 1000. Env `CUSTOS_AUDIT_CHECKPOINT_EVERY`. */
  readonly auditCheckpointEvery: number;
  /** …or after this many seconds with new events. Default 60. Env `CUSTOS_AUDIT_CHECKPOINT_SECONDS`. */
  readonly auditCheckpointSeconds: number;
  /** File every signed checkpoint is appended to (keep it off the database's disk). Default `<dataDir>/audit-checkpoints.note`. Env `CUSTOS_AUDIT_CHECKPOINT_FILE`. */
  readonly auditCheckpointFile: string;
  /** URL every signed checkpoint is POSTed to, if set. Env `CUSTOS_AUDIT_CHECKPOINT_WEBHOOK`. */
  readonly auditCheckpointWebhook: string | null;
  /** Origin line of checkpoints and name of the audit key. Default `<issuer host>/custos-audit`. Env `CUSTOS_AUDIT_ORIGIN`. */
  readonly auditOrigin: string;
  /** URL every audit event is forwarded to, live and in order (POST, JSON, HMAC-signed), if set. Env `CUSTOS_AUDIT_SINK_WEBHOOK`. */
  readonly auditSinkWebhook: string | null;
  /** HMAC-SHA256 key of the sink's `x-custos-signature` header; at least 16 characters; required with a sink. Environment only (`CUSTOS_AUDIT_SINK_SECRET`). */
  readonly auditSinkSecret: string | null;
  /** `json` (the API view of each event, default) or `ocsf` (OCSF 1.3 objects). Env `CUSTOS_AUDIT_SINK_FORMAT`. */
  readonly auditSinkFormat: 'json' | 'ocsf';
  /** How often the sink looks for new events, in ms; 50..60000. Default 1000. Env `CUSTOS_AUDIT_SINK_INTERVAL_MS`. */
  readonly auditSinkIntervalMs: number;
  /** Where `custos audit prune` archives pruned events and their checkpoints. Default `<dataDir>/audit-archive`. Env `CUSTOS_AUDIT_ARCHIVE_DIR`. */
  readonly auditArchiveDir: string;
  /** Browser origins allowed to call the gateway besides the issuer's own (comma-separated); requests without `Origin` are not affected. Env `CUSTOS_GATEWAY_ALLOWED_ORIGINS`. */
  readonly gatewayAllowedOrigins: readonly string[];
  /** Largest request body the gateway accepts (MCP messages, HTTP API bodies), in bytes. Default 1048576. Env `CUSTOS_GATEWAY_BODY_LIMIT`. */
  readonly gatewayBodyLimit: number;
  /** Seconds an upstream has to answer a gateway call. Default 60. Env `CUSTOS_GATEWAY_UPSTREAM_TIMEOUT`. */
  readonly gatewayUpstreamTimeout: number;
  /** `durable` (default): a call's authorization is recorded durably before the upstream is called; `fast`: the record is written after the call without holding it, and calls are refused while records cannot be written. Env `CUSTOS_GATEWAY_AUDIT_MODE`. */
  readonly gatewayAuditMode: 'durable' | 'fast';
  /** Keep tool-call arguments in gateway audit records (default false: only a keyed hash). Env `CUSTOS_GATEWAY_KEEP_ARGUMENTS`. */
  readonly gatewayKeepArguments: boolean;
  /** Calls per second each agent may make through one node's gateway, all upstreams together; 0 turns the limit off. Default 100. Env `CUSTOS_GATEWAY_AGENT_RATE`. */
  readonly gatewayAgentRate: number;
  /** Burst of that limit. Default 200. Env `CUSTOS_GATEWAY_AGENT_BURST`. */
  readonly gatewayAgentBurst: number;
  /** Run the monitor (activity, baselines, detectors, alerts, automatic response). Default true. Env `CUSTOS_MONITOR_ENABLED`. */
  readonly monitorEnabled: boolean;
  /** Learning period of a new agent from its first activity, in seconds; meanwhile only hard rules alert. Default 604800 (7 days). Env `CUSTOS_MONITOR_LEARNING_SECONDS`. */
  readonly monitorLearningSeconds: number;
  /** How often the monitor reads new audit events, in ms; 50..60000. Default 250. Env `CUSTOS_MONITOR_INTERVAL_MS`. */
  readonly monitorIntervalMs: number;
  /** Detector thresholds and severities over the defaults, by detector id (docs/monitoring.md); a mapping, or JSON in the environment. Env `CUSTOS_MONITOR_DETECTORS`. */
  readonly monitorDetectors: DetectorSettings;
  /** Automatic responses, `detector[:minSeverity]=action` (action `notify`, `require_approval` or `suspend`; detector `*` for any); a list or comma-separated. Default none: notify only. Env `CUSTOS_MONITOR_RESPONSE_RULES`. */
  readonly monitorResponseRules: readonly ResponseRule[];
  /** Which resources are `sensitive` and which tools are `egress` (glob patterns over resource ids); a mapping, or JSON. Env `CUSTOS_MONITOR_RESOURCE_TAGS`. */
  readonly monitorResourceTags: ResourceTags;
  /** URL findings are POSTed to (JSON, HMAC-signed, retried until acknowledged), if set. Env `CUSTOS_MONITOR_WEBHOOK_URL`. */
  readonly monitorWebhookUrl: string | null;
  /** HMAC-SHA256 key of alerts' `x-custos-signature`; at least 16 characters; required with a webhook. Environment only (`CUSTOS_MONITOR_WEBHOOK_SECRET`). */
  readonly monitorWebhookSecret: string | null;
  /** Receivers of CAEP Security Event Tokens (RFC 8417, pushed per RFC 8935); a list or comma-separated. Default none. Env `CUSTOS_MONITOR_SET_RECEIVERS`. */
  readonly monitorSetReceivers: readonly string[];
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

type Parser = (raw: unknown, key: string) => unknown;

export interface KeySpec {
  readonly env?: string;
  readonly flag?: string;
  /** False for secrets that must not sit in a config file. */
  readonly inFile: boolean;
  readonly parse: Parser;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(message: string) {
    super(`invalid config: ${message}`);
  }
}

const text: Parser = (raw, key) => {
  if (typeof raw !== 'string' || raw.trim() === '')
    throw new ConfigError(`\`${key}\` must be a non-empty string`);
  return raw.trim();
};

const integer =
  (min: number, max: number): Parser =>
  (raw, key) => {
    const n = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`\`${key}\` must be an integer between ${min} and ${max}`);
    }
    return n;
  };

const databaseUrl: Parser = (raw, key) => {
  const value = text(raw, key) as string;
  if (value.startsWith('sqlite:') && value.length > 'sqlite:'.length) return value;
  if (/^postgres(ql)?:\/\//.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigError(`\`${key}\` is not a valid PostgreSQL URL`);
    }
    const schema = url.searchParams.get('schema');
    if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new ConfigError(
        `\`${key}\` has an invalid schema \`${schema}\`: use lowercase letters, digits and underscores`,
      );
    }
    return value;
  }
  throw new ConfigError(`\`${key}\` must be \`sqlite:<path>\` or \`postgres://…\``);
};

const httpUrl: Parser = (raw, key) => {
  const value = text(raw, key) as string;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`\`${key}\` must be an absolute http(s) URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ConfigError(`\`${key}\` must be an http(s) URL`);
  // a bare `?` or `#` leaves `search`/`hash` empty but would still end up in the issuer string
  if (url.search || url.hash || /[?#]/.test(value))
    throw new ConfigError(`\`${key}\` must not have a query or fragment`);
  return value.replace(/\/+$/, '');
};

const oneOf =
  (values: readonly string[]): Parser =>
  (raw, key) => {
    if (typeof raw !== 'string' || !values.includes(raw)) {
      throw new ConfigError(`\`${key}\` must be one of ${values.join(', ')}`);
    }
    return raw;
  };

const boolean: Parser = (raw, key) => {
  if (typeof raw === 'boolean') return raw;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`\`${key}\` must be true or false`);
};

/** Origins (`https://host[:port]`), as a list or a comma-separated string. */
const originList: Parser = (raw, key) => {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : null;
  if (!items) throw new ConfigError(`\`${key}\` must be a list of origins`);
  return items
    .map((item) => String(item).trim())
    .filter((item) => item !== '')
    .map((item) => {
      let url: URL;
      try {
        url = new URL(item);
      } catch {
        throw new ConfigError(`\`${key}\` has an invalid origin \`${item}\``);
      }
      if (url.origin !== item.replace(/\/$/, ''))
        throw new ConfigError(`\`${key}\`: \`${item}\` is not an origin (scheme://host[:port])`);
      return url.origin;
    });
};

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const logLevel: Parser = (raw, key) => {
  if (typeof raw !== 'string' || !LOG_LEVELS.includes(raw as LogLevel)) {
    throw new ConfigError(`\`${key}\` must be one of ${LOG_LEVELS.join(', ')}`);
  }
  return raw;
};

export const KEYS: Readonly<Record<keyof Config, KeySpec>> = {
  host: { env: 'CUSTOS_HOST', flag: 'host', inFile: true, parse: text },
  port: { env: 'CUSTOS_PORT', flag: 'port', inFile: true, parse: integer(1, 65535) },
  dataDir: { env: 'CUSTOS_DATA_DIR', flag: 'dataDir', inFile: true, parse: text },
  databaseUrl: { env: 'CUSTOS_DATABASE_URL', flag: 'databaseUrl', inFile: true, parse: databaseUrl },
  issuer: { env: 'CUSTOS_ISSUER', flag: 'issuer', inFile: true, parse: httpUrl },
  masterKey: { env: 'CUSTOS_MASTER_KEY', inFile: false, parse: text },
  masterKeyFile: { env: 'CUSTOS_MASTER_KEY_FILE', inFile: true, parse: text },
  masterKeyPrevious: { env: 'CUSTOS_MASTER_KEY_PREVIOUS', inFile: false, parse: text },
  bootstrapToken: { env: 'CUSTOS_BOOTSTRAP_TOKEN', inFile: false, parse: text },
  logLevel: { env: 'CUSTOS_LOG_LEVEL', flag: 'logLevel', inFile: true, parse: logLevel },
  bodyLimit: { env: 'CUSTOS_BODY_LIMIT', inFile: true, parse: integer(1024, 64 * 1024 * 1024) },
  agentDefaultTtlDays: { env: 'CUSTOS_AGENT_DEFAULT_TTL_DAYS', inFile: true, parse: integer(1, 3650) },
  adminTokenTtlDays: { env: 'CUSTOS_ADMIN_TOKEN_TTL_DAYS', inFile: true, parse: integer(1, 3650) },
  accessTokenTtl: { env: 'CUSTOS_ACCESS_TOKEN_TTL', inFile: true, parse: integer(60, 3600) },
  clockLeeway: { env: 'CUSTOS_CLOCK_LEEWAY', inFile: true, parse: integer(0, 300) },
  delegationMaxDepth: { env: 'CUSTOS_DELEGATION_MAX_DEPTH', inFile: true, parse: integer(1, 10) },
  approvalTtl: { env: 'CUSTOS_APPROVAL_TTL', inFile: true, parse: integer(1, 86_400) },
  assertionMaxLifetime: { env: 'CUSTOS_ASSERTION_MAX_LIFETIME', inFile: true, parse: integer(10, 3600) },
  signingAlg: { env: 'CUSTOS_SIGNING_ALG', inFile: true, parse: oneOf(['ES256', 'EdDSA']) },
  keyRotationDays: { env: 'CUSTOS_KEY_ROTATION_DAYS', inFile: true, parse: integer(0, 3650) },
  dpopNonce: { env: 'CUSTOS_DPOP_NONCE', inFile: true, parse: boolean },
  dpopMaxAge: { env: 'CUSTOS_DPOP_MAX_AGE', inFile: true, parse: integer(5, 600) },
  auditCheckpointEvery: { env: 'CUSTOS_AUDIT_CHECKPOINT_EVERY', inFile: true, parse: integer(1, 10_000_000) },
  auditCheckpointSeconds: { env: 'CUSTOS_AUDIT_CHECKPOINT_SECONDS', inFile: true, parse: integer(1, 86_400) },
  auditCheckpointFile: { env: 'CUSTOS_AUDIT_CHECKPOINT_FILE', inFile: true, parse: text },
  auditCheckpointWebhook: { env: 'CUSTOS_AUDIT_CHECKPOINT_WEBHOOK', inFile: true, parse: httpUrl },
  auditOrigin: { env: 'CUSTOS_AUDIT_ORIGIN', inFile: true, parse: text },
  auditSinkWebhook: { env: 'CUSTOS_AUDIT_SINK_WEBHOOK', inFile: true, parse: httpUrl },
  auditSinkSecret: { env: 'CUSTOS_AUDIT_SINK_SECRET', inFile: false, parse: text },
  auditSinkFormat: { env: 'CUSTOS_AUDIT_SINK_FORMAT', inFile: true, parse: oneOf(['json', 'ocsf']) },
  auditSinkIntervalMs: { env: 'CUSTOS_AUDIT_SINK_INTERVAL_MS', inFile: true, parse: integer(50, 60_000) },
  auditArchiveDir: { env: 'CUSTOS_AUDIT_ARCHIVE_DIR', inFile: true, parse: text },
  gatewayAllowedOrigins: { env: 'CUSTOS_GATEWAY_ALLOWED_ORIGINS', inFile: true, parse: originList },
  gatewayBodyLimit: {
    env: 'CUSTOS_GATEWAY_BODY_LIMIT',
    inFile: true,
    parse: integer(1024, 1024 * 1024 * 1024),
  },
  gatewayUpstreamTimeout: { env: 'CUSTOS_GATEWAY_UPSTREAM_TIMEOUT', inFile: true, parse: integer(1, 3600) },
  gatewayAuditMode: { env: 'CUSTOS_GATEWAY_AUDIT_MODE', inFile: true, parse: oneOf(['durable', 'fast']) },
  gatewayKeepArguments: { env: 'CUSTOS_GATEWAY_KEEP_ARGUMENTS', inFile: true, parse: boolean },
  gatewayAgentRate: { env: 'CUSTOS_GATEWAY_AGENT_RATE', inFile: true, parse: integer(0, 1_000_000) },
  gatewayAgentBurst: { env: 'CUSTOS_GATEWAY_AGENT_BURST', inFile: true, parse: integer(1, 10_000_000) },
  monitorEnabled: { env: 'CUSTOS_MONITOR_ENABLED', inFile: true, parse: boolean },
  monitorLearningSeconds: {
    env: 'CUSTOS_MONITOR_LEARNING_SECONDS',
    inFile: true,
    parse: integer(0, 31_536_000),
  },
  monitorIntervalMs: { env: 'CUSTOS_MONITOR_INTERVAL_MS', inFile: true, parse: integer(50, 60_000) },
  monitorDetectors: { env: 'CUSTOS_MONITOR_DETECTORS', inFile: true, parse: parseDetectorSettings },
  monitorResponseRules: { env: 'CUSTOS_MONITOR_RESPONSE_RULES', inFile: true, parse: parseResponseRules },
  monitorResourceTags: { env: 'CUSTOS_MONITOR_RESOURCE_TAGS', inFile: true, parse: parseResourceTags },
  monitorWebhookUrl: { env: 'CUSTOS_MONITOR_WEBHOOK_URL', inFile: true, parse: httpUrl },
  monitorWebhookSecret: { env: 'CUSTOS_MONITOR_WEBHOOK_SECRET', inFile: false, parse: text },
  monitorSetReceivers: { env: 'CUSTOS_MONITOR_SET_RECEIVERS', inFile: true, parse: parseUrlList },
};
