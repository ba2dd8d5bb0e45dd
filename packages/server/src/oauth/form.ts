import { OAuthError } from './oauth-error.js';

/** A parsed `application/x-www-form-urlencoded` body that keeps repeated parameters visible. */
export type Form = ReadonlyMap<string, readonly string[]>;

/**
 * Parses a form exactly as the WHATWG `application/x-www-form-urlencoded`
 * parser (`URLSearchParams`) does: `&`-separated, empty pieces skipped, split
 * at the first `=`, `+` a space, then percent-decoded as UTF-8. Hand-written for
 * the token endpoint's hot path (Node's `URLSearchParams` costs several times
 * more); a piece `decodeURIComponent` cannot read (a stray `%`, bytes that are
 * not UTF-8), or text with a lone surrogate, sends the whole body to
 * `URLSearchParams`, which decides it.
 */
export function parseForm(body: string): Form {
  // a lone surrogate (never in a body Node decoded from UTF-8) becomes U+FFFD there
  if (!body.isWellFormed()) return parseFormSlowly(body);
  const form = new Map<string, string[]>();
  // like URLSearchParams, one leading `?` is not part of the first name
  let start = body.startsWith('?') ? 1 : 0;
  while (start <= body.length) {
    let end = body.indexOf('&', start);
    if (end === -1) end = body.length;
    if (end > start) {
      // the `=` is searched for within this piece only: a search to the end of the
      // body for every piece would take time quadratic in the number of pieces
      const piece = body.slice(start, end);
      const eq = piece.indexOf('=');
      const name = decodeFormPart(eq === -1 ? piece : piece.slice(0, eq));
      const value = eq === -1 ? '' : decodeFormPart(piece.slice(eq + 1));
      if (name === null || value === null) return parseFormSlowly(body);
      append(form, name, value);
    }
    start = end + 1;
  }
  return form;
}

/** One name or value of a form, decoded; null when `decodeURIComponent` cannot read it. */
function decodeFormPart(raw: string): string | null {
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    return null;
  }
}

function parseFormSlowly(body: string): Form {
  const form = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(body)) append(form, name, value);
  return form;
}

/** Adds a parameter's value after those of the same name (repeated parameters stay visible). */
function append(form: Map<string, string[]>, name: string, value: string): void {
  const values = form.get(name);
  if (values) values.push(value);
  else form.set(name, [value]);
}

/**
 * Requires the body to be a form (RFC 6749 §3.2) and every parameter to appear
 * at most once (§3.1), except those in `repeatable` (RFC 8707's `resource`).
 */
export function requireForm(
  contentType: string | undefined,
  body: unknown,
  repeatable: readonly string[] = [],
): Form {
  if (contentType?.split(';')[0]?.trim().toLowerCase() !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'the request body must be `application/x-www-form-urlencoded`');
  }
  const form = parseForm(typeof body === 'string' ? body : '');
  for (const [name, values] of form) {
    if (values.length > 1 && !repeatable.includes(name)) {
      throw new OAuthError('invalid_request', `parameter \`${name}\` is repeated`);
    }
    if (values.some((v) => v === '') && name !== 'scope') {
      throw new OAuthError('invalid_request', `parameter \`${name}\` is empty`);
    }
  }
  return form;
}

/** The single value of a parameter, or undefined. */
export const one = (form: Form, name: string): string | undefined => form.get(name)?.[0];
