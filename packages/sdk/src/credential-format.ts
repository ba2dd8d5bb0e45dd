import { crc32 } from 'node:zlib';

/**
 * Custos credentials are `cst_<kind>_<body><checksum>`: a recognisable prefix so
 * secret scanners can find leaked ones, and a CRC32 checksum so a scanner (or the
 * server) can tell a real credential from a random match without any lookup.
 *
 * - `<kind>`: lowercase letters naming the credential type (`pat` = admin token).
 * - `<body>`: {@link BODY_LENGTH} base62 characters from a CSPRNG (~190 bits).
 * - `<checksum>`: CRC32 of `cst_<kind>_<body>`, base62, left-padded to 6 chars.
 */
export const BODY_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Matches any Custos credential in free text (for secret scanning). */
export const CREDENTIAL_PATTERN = new RegExp(
  `\\bcst_[a-z]{2,10}_[0-9A-Za-z]{${BODY_LENGTH + CHECKSUM_LENGTH}}\\b`,
  'g',
);

function base62(value: number, width: number): string {
  let out = '';
  let n = value;
  while (n > 0) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out.padStart(width, '0');
}

function checksum(prefixAndBody: string): string {
  return base62(crc32(prefixAndBody), CHECKSUM_LENGTH);
}

/**
 * Formats a credential from random bytes supplied by the caller (the caller owns
 * the randomness, so this module stays free of I/O). `random` must hold at least
 * {@link BODY_LENGTH} bytes from a CSPRNG; rejection sampling keeps the alphabet unbiased.
 */
export function formatCredential(kind: string, random: Uint8Array): string {
  if (!/^[a-z]{2,10}$/.test(kind)) throw new TypeError(`invalid credential kind \`${kind}\``);
  let body = '';
  for (const byte of random) {
    // 248 = 62 * 4: bytes at or above it would bias the first characters of the alphabet
    if (byte < 248) body += ALPHABET[byte % 62];
    if (body.length === BODY_LENGTH) break;
  }
  if (body.length < BODY_LENGTH) throw new RangeError('not enough random bytes for a credential body');
  const head = `cst_${kind}_${body}`;
  return head + checksum(head);
}

/** Result of {@link parseCredential}: the kind when the string is a well-formed credential. */
export type ParsedCredential = { readonly ok: true; readonly kind: string } | { readonly ok: false };

/**
 * Checks the shape and checksum of a credential without any lookup. A `false`
 * answer means the string was never issued by Custos (typo, truncation, forgery).
 */
export function parseCredential(value: string): ParsedCredential {
  const match = /^cst_([a-z]{2,10})_([0-9A-Za-z]+)$/.exec(value);
  if (!match || match[2]?.length !== BODY_LENGTH + CHECKSUM_LENGTH) return { ok: false };
  const head = value.slice(0, value.length - CHECKSUM_LENGTH);
  if (checksum(head) !== value.slice(-CHECKSUM_LENGTH)) return { ok: false };
  return { ok: true, kind: match[1] as string };
}
