import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { CustosError } from '../core/index.js';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'v1';

/**
 * The master key with its id; the id is recorded with everything it seals.
 * `previous` keys (during a master-key rotation) can still unseal what they
 * sealed, until everything has been re-wrapped with the current key.
 */
export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
  readonly previous?: readonly MasterKey[];
}

/** Derives the public id of a master key: `mk_` + 16 hex chars of SHA-256(key). */
export function masterKeyFrom(key: Buffer, previous: readonly Buffer[] = []): MasterKey {
  if (key.length !== 32 || previous.some((k) => k.length !== 32))
    throw new RangeError('master key must be 32 bytes');
  const id = (k: Buffer) => `mk_${createHash('sha256').update(k).digest('hex').slice(0, 16)}`;
  return { id: id(key), key, previous: previous.map((k) => ({ id: id(k), key: k })) };
}

/** The id of the master key that sealed `sealed`, or null for an unknown format. */
export function sealedWith(sealed: string): string | null {
  const parts = sealed.split('.');
  return parts.length === 5 && parts[0] === FORMAT ? (parts[1] as string) : null;
}

/**
 * Encrypts `plaintext` with AES-256-GCM under the master key. The output is
 * `v1.<key id>.<iv>.<ciphertext>.<tag>` (base64url parts); `context` is bound as
 * additional authenticated data, so a sealed value cannot be moved to another
 * row or purpose without failing to open.
 */
export function seal(master: MasterKey, plaintext: Buffer | string, context: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, master.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const parts = [iv, ciphertext, cipher.getAuthTag()].map((b) => b.toString('base64url'));
  return [FORMAT, master.id, ...parts].join('.');
}

/**
 * Decrypts a value made by {@link seal}. Fails closed: a wrong key, context,
 * or any change to the IV, ciphertext or tag throws `internal` and returns nothing.
 */
export function unseal(master: MasterKey, sealed: string, context: string): Buffer {
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== FORMAT)
    throw new CustosError('internal', 'sealed value has an unknown format');
  const [, keyId, iv, ciphertext, tag] = parts as [string, string, string, string, string];
  const key = [master, ...(master.previous ?? [])].find((k) => k.id === keyId);
  if (!key) {
    throw new CustosError(
      'internal',
      `sealed value needs master key \`${keyId}\`, but \`${master.id}\` is loaded`,
    );
  }
  try {
    const decipher = createDecipheriv(ALGORITHM, key.key, Buffer.from(iv, 'base64url'), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
  } catch (error) {
    throw new CustosError(
      'internal',
      'sealed value failed authentication (tampered, or sealed for another purpose)',
      {
        cause: error,
      },
    );
  }
}
