/**
 * Stable error codes. Each maps to one HTTP status and one RFC 9457 problem type
 * in `http/problem.ts`; the code is what tests, the CLI and clients match on.
 */
export type ErrorCode =
  | 'validation_failed'
  | 'malformed_body'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'invalid_transition'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

/** One problem in a request field, addressed by a JSON pointer (RFC 6901). */
export interface FieldError {
  readonly pointer: string;
  readonly detail: string;
  /** Where in the text at `pointer` the problem is (1-based), when known (policy errors). */
  readonly line?: number;
  readonly column?: number;
}

/**
 * The one base class of every error Custos raises on purpose. `message` follows
 * the style guide: lowercase, no final full stop, user input in backticks.
 * Anything else that reaches the HTTP layer is an internal error whose detail
 * goes only to the log.
 */
export class CustosError extends Error {
  override readonly name = 'CustosError';
  readonly code: ErrorCode;
  readonly fields: readonly FieldError[];

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; fields?: readonly FieldError[] },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.fields = options?.fields ?? [];
  }
}

export const notFound = (what: string, id: string): CustosError =>
  new CustosError('not_found', `unknown ${what} \`${id}\``);

export const invalid = (pointer: string, detail: string): CustosError =>
  new CustosError('validation_failed', detail, { fields: [{ pointer, detail }] });
