import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';

/**
 * C2SP signed notes (https://c2sp.org/signed-note) carrying tlog checkpoints
 * (https://c2sp.org/tlog-checkpoint): the text is `<origin>\n<size>\n<base64 hash>\n`,
 * followed by a blank line and one signature line per signer:
 * `— <key name> <base64(key id ‖ Ed25519 signature)>`.
 */

const ED25519 = 0x01;
const DASH = '\u2014';
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The 4-byte key id: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[0:4]. */
export function noteKeyId(name: string, publicKey: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([ED25519]), publicKey]))
    .digest()
    .subarray(0, 4);
}

/** The verifier key string `<name>+<hex key id>+<base64(0x01 ‖ public key)>`. */
export function verifierKey(name: string, publicKey: Buffer): string {
  return `${name}+${noteKeyId(name, publicKey).toString('hex')}+${Buffer.concat([Buffer.from([ED25519]), publicKey]).toString('base64')}`;
}

/** Parses a verifier key string; null when malformed. */
export function parseVerifierKey(vkey: string): { name: string; publicKey: Buffer; key: KeyObject } | null {
  const match = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey.trim());
  if (!match) return null;
  const raw = Buffer.from(match[3] as string, 'base64');
  if (raw.length !== 33 || raw[0] !== ED25519) return null;
  const publicKey = raw.subarray(1);
  const name = match[1] as string;
  if (noteKeyId(name, publicKey).toString('hex') !== match[2]) return null;
  const key = createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]),
    format: 'der',
    type: 'spki',
  });
  return { name, publicKey, key };
}

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  /** The chain head hash (hex) at `size`. */
  readonly hash: string;
}

export function checkpointText(c: Checkpoint): string {
  return `${c.origin}\n${c.size}\n${Buffer.from(c.hash, 'hex').toString('base64')}\n`;
}

/** Signs a checkpoint with the audit key, returning the whole signed note. */
export function signCheckpoint(
  c: Checkpoint,
  name: string,
  privateKey: KeyObject,
  publicKey: Buffer,
): string {
  const text = checkpointText(c);
  const signature = sign(null, Buffer.from(text), privateKey);
  const blob = Buffer.concat([noteKeyId(name, publicKey), signature]).toString('base64');
  return `${text}\n${DASH} ${name} ${blob}\n`;
}

/**
 * Opens a signed note: returns the checkpoint when a signature line by `vkey`
 * verifies over the exact text, else null (unsigned, wrong key, altered text,
 * malformed).
 */
export function openCheckpoint(
  note: string,
  vkey: NonNullable<ReturnType<typeof parseVerifierKey>>,
): Checkpoint | null {
  const split = note.indexOf('\n\n');
  if (split < 0) return null;
  const text = note.slice(0, split + 1);
  const lines = text.split('\n');
  if (lines.length !== 4 || !/^\d+$/.test(lines[1] as string)) return null;
  const hash = Buffer.from(lines[2] as string, 'base64');
  if (hash.length !== 32) return null;
  const keyId = noteKeyId(vkey.name, vkey.publicKey);
  for (const line of note.slice(split + 2).split('\n')) {
    const match = new RegExp(`^${DASH} (\\S+) ([A-Za-z0-9+/=]+)$`).exec(line);
    if (!match || match[1] !== vkey.name) continue;
    const blob = Buffer.from(match[2] as string, 'base64');
    if (blob.length !== 68 || !blob.subarray(0, 4).equals(keyId)) continue;
    if (verify(null, Buffer.from(text), vkey.key, blob.subarray(4))) {
      return { origin: lines[0] as string, size: Number(lines[1]), hash: hash.toString('hex') };
    }
  }
  return null;
}

/** Splits a file of signed notes (each ends with its signature lines, notes separated by blank lines). */
export function splitNotes(file: string): string[] {
  const notes: string[] = [];
  const lines = file.split('\n');
  let current: string[] = [];
  let inSignatures = false;
  for (const line of lines) {
    if (line === '' && !inSignatures && current.length > 0) {
      current.push('');
      inSignatures = true;
      continue;
    }
    if (line === '' && inSignatures) {
      if (current.length > 0) notes.push(`${current.join('\n')}\n`);
      current = [];
      inSignatures = false;
      continue;
    }
    current.push(line);
  }
  if (current.length > 0 && inSignatures) notes.push(`${current.join('\n')}\n`);
  return notes;
}
