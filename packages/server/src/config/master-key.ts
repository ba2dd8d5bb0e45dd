import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from './config-keys.js';

const KEY_BYTES = 32;

function decode(value: string, where: string): Buffer {
  const trimmed = value.trim();
  const hex = /^[0-9a-f]{64}$/i.test(trimmed);
  // Buffer.from(…, 'base64') skips bad characters silently, so check the alphabet first
  if (!hex && !/^[A-Za-z0-9+/]{43}=?$|^[A-Za-z0-9_-]{43}$/.test(trimmed)) {
    throw new ConfigError(`${where} must hold 32 bytes, base64 or hex encoded`);
  }
  const key = hex
    ? Buffer.from(trimmed, 'hex')
    : Buffer.from(trimmed, trimmed.includes('-') || trimmed.includes('_') ? 'base64url' : 'base64');
  if (key.length !== KEY_BYTES) throw new ConfigError(`${where} must hold 32 bytes, base64 or hex encoded`);
  return key;
}

/**
 * Returns the 32-byte master key that encrypts every secret at rest: from
 * `CUSTOS_MASTER_KEY` when set, else from the key file, which is generated
 * (mode 0600, in a 0700 directory) on first start. Refuses a key file that
 * group or others can read, as ssh does.
 */
export function loadMasterKey(config: {
  masterKey: string | null;
  masterKeyFile: string;
  masterKeyPrevious?: readonly string[];
}): {
  key: Buffer;
  previous: Buffer[];
  created: boolean;
} {
  const previous = (config.masterKeyPrevious ?? []).map((k, i) =>
    decode(k, `\`CUSTOS_MASTER_KEY_PREVIOUS\` entry ${i + 1}`),
  );
  return { ...loadCurrentKey(config), previous };
}

function loadCurrentKey(config: { masterKey: string | null; masterKeyFile: string }): {
  key: Buffer;
  created: boolean;
} {
  if (config.masterKey !== null)
    return { key: decode(config.masterKey, '`CUSTOS_MASTER_KEY`'), created: false };
  const path = config.masterKeyFile;
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const key = randomBytes(KEY_BYTES);
    // 'wx': never overwrite a key another process has just written
    writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    return { key, created: true };
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(
      `master key file \`${path}\` is readable by group or others (mode ${mode.toString(8)}): run \`chmod 600 ${path}\``,
    );
  }
  return { key: decode(readFileSync(path, 'utf8'), `master key file \`${path}\``), created: false };
}
