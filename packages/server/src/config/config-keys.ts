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
};
