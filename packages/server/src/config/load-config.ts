import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseCredential } from '@custos/sdk';
import { parse as parseYaml } from 'yaml';
import { type Config, ConfigError, KEYS } from './config-keys.js';
import {
  DEFAULT_DETECTORS,
  type DetectorSettings,
  type ResourceTags,
  type ResponseRule,
} from './monitor-keys.js';

export interface ConfigSources {
  /** Command-line flags, already parsed (camelCase keys). */
  readonly flags?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths resolve against. */
  readonly cwd?: string;
}

function readFileLayer(path: string, explicit: boolean): Record<string, unknown> {
  if (!existsSync(path)) {
    if (explicit) throw new ConfigError(`config file \`${path}\` does not exist`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(
      `config file \`${path}\` is not valid YAML: ${(error as Error).message.split('\n')[0]?.replace(/:$/, '')}`,
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file \`${path}\` must be a mapping of keys to values`);
  }
  for (const key of Object.keys(parsed)) {
    // own keys only: `toString` or `__proto__` in the file must not find Object.prototype members
    const spec = Object.hasOwn(KEYS, key) ? KEYS[key as keyof Config] : undefined;
    if (!spec) throw new ConfigError(`unknown key \`${key}\` in \`${path}\``);
    if (!spec.inFile)
      throw new ConfigError(`\`${key}\` is a secret: set it with ${spec.env}, not in \`${path}\``);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Builds the configuration from defaults, file, environment and flags (each
 * overriding the one before), validates every key and returns it frozen.
 * Throws {@link ConfigError} with a one-line message naming the key.
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const flags = sources.flags ?? {};
  const cwd = sources.cwd ?? process.cwd();
  const explicitFile = (flags.config as string | undefined) ?? env.CUSTOS_CONFIG;
  const file = readFileLayer(resolve(cwd, explicitFile ?? 'custos.yaml'), explicitFile !== undefined);

  const raw: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(KEYS)) {
    let value: unknown = file[key];
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') value = fromEnv;
    if (spec.flag && flags[spec.flag] !== undefined) value = flags[spec.flag];
    if (value !== undefined) raw[key] = spec.parse(value, key);
  }

  const host = (raw.host as string | undefined) ?? '127.0.0.1';
  const port = (raw.port as number | undefined) ?? 8080;
  const dataDir = resolve(cwd, (raw.dataDir as string | undefined) ?? '.custos');
  const databaseUrl = (raw.databaseUrl as string | undefined) ?? `sqlite:${resolve(dataDir, 'custos.db')}`;
  const bootstrapToken = raw.bootstrapToken as string | undefined;
  const parsedToken = bootstrapToken === undefined ? null : parseCredential(bootstrapToken);
  if (parsedToken && !(parsedToken.ok && parsedToken.kind === 'pat')) {
    throw new ConfigError(
      '`bootstrapToken` must be a `cst_pat_…` token with a valid checksum: create one with `custos token generate`',
    );
  }
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const masterKeyFile = raw.masterKeyFile as string | undefined;
  const issuer = (raw.issuer as string | undefined) ?? `http://${urlHost}:${port}`;
  return Object.freeze({
    host,
    port,
    dataDir,
    databaseUrl:
      databaseUrl.startsWith('sqlite:') && !isAbsolute(databaseUrl.slice(7))
        ? `sqlite:${resolve(cwd, databaseUrl.slice(7))}`
        : databaseUrl,
    issuer,
    masterKey: (raw.masterKey as string | undefined) ?? null,
    masterKeyPrevious: Object.freeze(
      ((raw.masterKeyPrevious as string | undefined) ?? '')
        .split(',')
        .map((k) => k.trim())
        .filter((k) => k !== ''),
    ),
    masterKeyFile: masterKeyFile ? resolve(cwd, masterKeyFile) : resolve(dataDir, 'master.key'),
    bootstrapToken,
    logLevel: (raw.logLevel as Config['logLevel'] | undefined) ?? 'info',
    bodyLimit: (raw.bodyLimit as number | undefined) ?? 64 * 1024,
    agentDefaultTtlDays: (raw.agentDefaultTtlDays as number | undefined) ?? 90,
    adminTokenTtlDays: (raw.adminTokenTtlDays as number | undefined) ?? 90,
    accessTokenTtl: (raw.accessTokenTtl as number | undefined) ?? 300,
    clockLeeway: (raw.clockLeeway as number | undefined) ?? 30,
    delegationMaxDepth: (raw.delegationMaxDepth as number | undefined) ?? 3,
    approvalTtl: (raw.approvalTtl as number | undefined) ?? 900,
    assertionMaxLifetime: (raw.assertionMaxLifetime as number | undefined) ?? 300,
    signingAlg: (raw.signingAlg as Config['signingAlg'] | undefined) ?? 'ES256',
    keyRotationDays: (raw.keyRotationDays as number | undefined) ?? 30,
    dpopNonce: (raw.dpopNonce as boolean | undefined) ?? false,
    dpopMaxAge: (raw.dpopMaxAge as number | undefined) ?? 60,
    auditCheckpointEvery: (raw.auditCheckpointEvery as number | undefined) ?? 1000,
    auditCheckpointSeconds: (raw.auditCheckpointSeconds as number | undefined) ?? 60,
    auditCheckpointFile: resolve(
      cwd,
      (raw.auditCheckpointFile as string | undefined) ?? resolve(dataDir, 'audit-checkpoints.note'),
    ),
    auditCheckpointWebhook: (raw.auditCheckpointWebhook as string | undefined) ?? null,
    auditOrigin: (raw.auditOrigin as string | undefined) ?? `${new URL(issuer).host}/custos-audit`,
    ...auditSink(raw),
    auditArchiveDir: resolve(
      cwd,
      (raw.auditArchiveDir as string | undefined) ?? resolve(dataDir, 'audit-archive'),
    ),
    gatewayAllowedOrigins: Object.freeze((raw.gatewayAllowedOrigins as string[] | undefined) ?? []),
    gatewayBodyLimit: (raw.gatewayBodyLimit as number | undefined) ?? 1024 * 1024,
    gatewayUpstreamTimeout: (raw.gatewayUpstreamTimeout as number | undefined) ?? 60,
    gatewayAuditMode: (raw.gatewayAuditMode as Config['gatewayAuditMode'] | undefined) ?? 'durable',
    gatewayKeepArguments: (raw.gatewayKeepArguments as boolean | undefined) ?? false,
    gatewayAgentRate: (raw.gatewayAgentRate as number | undefined) ?? 100,
    gatewayAgentBurst: (raw.gatewayAgentBurst as number | undefined) ?? 200,
    ...monitor(raw),
  });
}

/** The monitor's settings: a webhook needs a secret of at least 16 characters to sign alerts with. */
function monitor(
  raw: Record<string, unknown>,
): Pick<
  Config,
  | 'monitorEnabled'
  | 'monitorLearningSeconds'
  | 'monitorIntervalMs'
  | 'monitorDetectors'
  | 'monitorResponseRules'
  | 'monitorResourceTags'
  | 'monitorWebhookUrl'
  | 'monitorWebhookSecret'
  | 'monitorSetReceivers'
> {
  const webhook = (raw.monitorWebhookUrl as string | undefined) ?? null;
  const secret = (raw.monitorWebhookSecret as string | undefined) ?? null;
  if (webhook !== null && secret === null)
    throw new ConfigError(
      '`monitorWebhookUrl` needs `monitorWebhookSecret` (CUSTOS_MONITOR_WEBHOOK_SECRET) to sign alerts',
    );
  if (secret !== null && secret.length < 16)
    throw new ConfigError('`monitorWebhookSecret` must be at least 16 characters');
  return {
    monitorEnabled: (raw.monitorEnabled as boolean | undefined) ?? true,
    monitorLearningSeconds: (raw.monitorLearningSeconds as number | undefined) ?? 7 * 86_400,
    monitorIntervalMs: (raw.monitorIntervalMs as number | undefined) ?? 250,
    monitorDetectors: (raw.monitorDetectors as DetectorSettings | undefined) ?? DEFAULT_DETECTORS,
    monitorResponseRules: Object.freeze((raw.monitorResponseRules as ResponseRule[] | undefined) ?? []),
    monitorResourceTags: (raw.monitorResourceTags as ResourceTags | undefined) ?? {
      sensitive: [],
      egress: [],
    },
    monitorWebhookUrl: webhook,
    monitorWebhookSecret: secret,
    monitorSetReceivers: Object.freeze((raw.monitorSetReceivers as string[] | undefined) ?? []),
  };
}

/** The live audit sink's settings: a webhook needs a secret of at least 16 characters to sign with. */
function auditSink(
  raw: Record<string, unknown>,
): Pick<Config, 'auditSinkWebhook' | 'auditSinkSecret' | 'auditSinkFormat' | 'auditSinkIntervalMs'> {
  const webhook = (raw.auditSinkWebhook as string | undefined) ?? null;
  const secret = (raw.auditSinkSecret as string | undefined) ?? null;
  if (webhook !== null && secret === null)
    throw new ConfigError(
      '`auditSinkWebhook` needs `auditSinkSecret` (CUSTOS_AUDIT_SINK_SECRET) to sign deliveries',
    );
  if (secret !== null && secret.length < 16)
    throw new ConfigError('`auditSinkSecret` must be at least 16 characters');
  return {
    auditSinkWebhook: webhook,
    auditSinkSecret: secret,
    auditSinkFormat: (raw.auditSinkFormat as Config['auditSinkFormat'] | undefined) ?? 'json',
    auditSinkIntervalMs: (raw.auditSinkIntervalMs as number | undefined) ?? 1000,
  };
}

/** Settings that are legal but unsafe; the server logs each loudly at start. */
export function insecureSettings(config: Config): string[] {
  const warnings: string[] = [];
  const loopback = /^(127\.|localhost$|::1$)/.test(config.host);
  if (!loopback && config.issuer.startsWith('http://')) {
    warnings.push(
      `listening on \`${config.host}\` with a plain-http issuer: put Custos behind TLS and set CUSTOS_ISSUER to its https URL`,
    );
  }
  if (config.masterKey === null && config.databaseUrl.startsWith('postgres')) {
    warnings.push(
      'master key read from a local file while the database is shared: set CUSTOS_MASTER_KEY on every node',
    );
  }
  return warnings;
}
