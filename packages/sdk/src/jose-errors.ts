import { errors } from 'jose';

/**
 * A log-safe, lowercase description of why jose refused a JWT, naming the
 * failed claim or check; `subject` names the JWT (`access token`, `dpop proof`).
 */
export function describeJoseError(subject: string, error: unknown): string {
  const claim =
    error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTExpired ? error.claim : '';
  if (claim === 'iat' && !(error instanceof errors.JWTClaimValidationFailed && error.reason === 'missing')) {
    return `${subject} \`iat\` is outside the acceptance window`;
  }
  if (error instanceof errors.JWTExpired) {
    return error.claim === 'exp' ? `${subject} expired` : `${subject} \`${error.claim}\` is too old`;
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    return error.reason === 'missing'
      ? `${subject} lacks claim \`${error.claim}\``
      : `${subject} \`${error.claim}\` check failed`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return `${subject} signature is invalid`;
  if (error instanceof errors.JOSEAlgNotAllowed) return `${subject} algorithm is not allowed`;
  if (error instanceof errors.JWKSNoMatchingKey) return `no issuer key matches the ${subject}`;
  if (error instanceof errors.JWKSMultipleMatchingKeys) return `several issuer keys match the ${subject}`;
  if (error instanceof errors.JOSENotSupported) return `${subject} uses an unsupported algorithm or key`;
  return `${subject} is malformed`;
}

/**
 * `typ` compared the way jose does: case-insensitive, `application/` optional
 * (RFC 7515 §4.1.9).
 */
export function normalizeTyp(typ: unknown): string | undefined {
  return typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : undefined;
}
