import { type AuthScheme, verificationError } from './www-authenticate.js';

/** Request headers as a Fetch `Headers` or a Node `IncomingHttpHeaders`-like record. */
export type RequestHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** The credentials a request presents. */
export interface PresentedCredentials {
  readonly scheme: AuthScheme;
  readonly token: string;
  /** Every `DPoP` header value, split on commas (a compact JWS never contains one). */
  readonly proofs: readonly string[];
}

// RFC 6750 §2.1 b64token; a JWT uses a subset of it
const AUTHORIZATION = /^([A-Za-z]+) +([A-Za-z0-9\-._~+/]+=*)$/;
const SCHEME = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)/;

/**
 * All values of header `name` (lowercase). Repeated headers arrive as an array
 * (Node `headersDistinct`) or joined with commas (`Headers`, Node `headers`); the
 * caller splits where the grammar allows.
 */
export function headerValues(headers: RequestHeaders, name: string): string[] {
  if (headers instanceof Headers) {
    const value = headers.get(name);
    return value === null ? [] : [value];
  }
  const out: string[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    if (typeof value === 'string') out.push(value);
    else out.push(...value);
  }
  return out;
}

/**
 * Reads the `Authorization` (scheme `Bearer` or `DPoP`, case-insensitive) and
 * `DPoP` headers.
 *
 * @throws {CustosSdkError} `missing_token` when there is no `Authorization` header
 *   of either scheme; `invalid_request` when there are several or it is malformed.
 */
export function readCredentials(headers: RequestHeaders, algs: readonly string[]): PresentedCredentials {
  const values = headerValues(headers, 'authorization');
  const value = values[0]?.trim();
  const scheme = value === undefined ? undefined : SCHEME.exec(value)?.[1]?.toLowerCase();
  if (value === undefined || (values.length === 1 && scheme !== 'bearer' && scheme !== 'dpop')) {
    throw verificationError('missing_token', 'no bearer or dpop access token in the request', {
      scheme: 'Bearer',
      algs,
    });
  }
  // Fetch `Headers` and Node join repeated headers with commas, which no token contains
  if (values.length > 1 || value.includes(',')) {
    throw verificationError('invalid_request', 'more than one authorization header', {
      scheme: 'Bearer',
      algs,
    });
  }
  const match = AUTHORIZATION.exec(value);
  if (!match) {
    throw verificationError('invalid_request', 'malformed authorization header', { scheme: 'Bearer', algs });
  }
  const proofs = headerValues(headers, 'dpop')
    .flatMap((v) => v.split(','))
    .map((v) => v.trim());
  return { scheme: scheme === 'dpop' ? 'DPoP' : 'Bearer', token: match[2] as string, proofs };
}
