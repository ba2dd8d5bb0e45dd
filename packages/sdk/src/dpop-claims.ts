import { createHash } from 'node:crypto';

/**
 * The `htu` of a request URL (RFC 9449 §4.2): scheme, authority and path, without
 * query or fragment, in the WHATWG URL normal form (lowercase scheme and host,
 * default port removed) so that both sides compare equal strings.
 *
 * @throws {TypeError} when `url` is not an absolute URL.
 */
export function toHtu(url: string | URL): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/** The `ath` of an access token: base64url(SHA-256(ASCII of the token)), RFC 9449 §4.2. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}
