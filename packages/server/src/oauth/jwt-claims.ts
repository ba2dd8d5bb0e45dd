import type { JWTPayload } from 'jose';
import { OAuthError } from './oauth-error.js';

/**
 * RFC 7519 time checks of a signature-verified JWT, with leeway: `exp` required
 * and not passed, `nbf` and `iat` (when present) not in the future.
 */
export function checkTimeClaims(
  claims: JWTPayload,
  nowMs: number,
  leewaySeconds: number,
  what: string,
): void {
  const now = nowMs / 1000;
  if (typeof claims.exp !== 'number') throw new OAuthError('invalid_client', `${what} has no \`exp\``);
  if (claims.exp <= now - leewaySeconds) throw new OAuthError('invalid_client', `${what} has expired`);
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now + leewaySeconds)) {
    throw new OAuthError('invalid_client', `${what} is not yet valid (\`nbf\` is in the future)`);
  }
  if (claims.iat !== undefined && (typeof claims.iat !== 'number' || claims.iat > now + leewaySeconds)) {
    throw new OAuthError('invalid_client', `${what} \`iat\` is in the future`);
  }
}

/**
 * Whether `value` can be a single-use identifier (`jti`): 8 to 256 characters,
 * none a control character (U+0000–U+001F, U+007F). It is stored as text,
 * where PostgreSQL refuses NUL (and the refusal would fail every other write
 * of the batch).
 */
export function isSingleUseId(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 8 && value.length <= 256 && !hasControlCharacter(value);
}

/** Whether `text` has a control character (U+0000–U+001F, U+007F). */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
