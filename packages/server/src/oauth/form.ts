import { OAuthError } from './oauth-error.js';

/** A parsed `application/x-www-form-urlencoded` body that keeps repeated parameters visible. */
export type Form = ReadonlyMap<string, readonly string[]>;

export function parseForm(body: string): Form {
  const form = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(body)) {
    const values = form.get(name);
    if (values) values.push(value);
    else form.set(name, [value]);
  }
  return form;
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
