import { CustosError, type ErrorCode, type FieldError } from '../core/index.js';

/** One RFC 9457 problem type per error code; the URN is stable and documented in docs/api.md. */
const PROBLEMS: Readonly<Record<ErrorCode, { status: number; title: string }>> = {
  validation_failed: { status: 400, title: 'Request failed validation' },
  malformed_body: { status: 400, title: 'Malformed request body' },
  unauthenticated: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflict' },
  invalid_transition: { status: 409, title: 'Invalid state transition' },
  payload_too_large: { status: 413, title: 'Request body too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal error' },
  unavailable: { status: 503, title: 'Service unavailable' },
};

export const problemType = (code: ErrorCode): string => `urn:custos:problem:${code.replaceAll('_', '-')}`;

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly requestId?: string;
  readonly errors?: readonly FieldError[];
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message?: string;
  validation?: ReadonlyArray<{
    instancePath: string;
    keyword: string;
    message?: string;
    params: Record<string, unknown>;
  }>;
  validationContext?: string;
}

const PART_PREFIX: Readonly<Record<string, string>> = {
  body: '',
  querystring: 'query parameter ',
  params: 'path parameter ',
};

function validationErrors(error: FastifyLikeError): FieldError[] {
  return (error.validation ?? []).map((v) => {
    const part = PART_PREFIX[error.validationContext ?? 'body'] ?? '';
    const noun = part || 'field ';
    if (v.keyword === 'additionalProperties') {
      const name = String(v.params.additionalProperty);
      return { pointer: `${v.instancePath}/${name}`, detail: `unknown ${noun}\`${name}\`` };
    }
    if (v.keyword === 'required') {
      const name = String(v.params.missingProperty);
      return { pointer: `${v.instancePath}/${name}`, detail: `missing required ${noun}\`${name}\`` };
    }
    const where = v.instancePath
      ? `\`${v.instancePath.slice(1).replaceAll('/', '.')}\``
      : part
        ? part.trim()
        : 'body';
    return { pointer: v.instancePath || '/', detail: `${where} ${v.message ?? 'is invalid'}` };
  });
}

/**
 * Maps any error to a problem. This is the one place errors meet the wire:
 * 4xx carry their detail to the client; anything unexpected becomes a 500 whose
 * detail stays in the log (`internal: true`).
 */
export function toProblem(error: unknown, requestId: string): { body: ProblemBody; internal: boolean } {
  const make = (code: ErrorCode, detail: string, errors?: readonly FieldError[]) => {
    const p = PROBLEMS[code];
    const body: ProblemBody = {
      type: problemType(code),
      title: p.title,
      status: p.status,
      detail,
      requestId,
      ...(errors && errors.length > 0 ? { errors } : {}),
    };
    return { body, internal: code === 'internal' };
  };
  if (error instanceof CustosError) return make(error.code, error.message, error.fields);
  const e = (error ?? {}) as FastifyLikeError;
  if (e.validation) {
    const errors = validationErrors(e);
    return make('validation_failed', errors[0]?.detail ?? 'invalid request', errors);
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return make('payload_too_large', 'request body exceeds the configured limit');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return make('unsupported_media_type', 'request body must be `application/json`');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return make('malformed_body', 'request body is empty but declared as JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return make('malformed_body', 'content-length does not match the body');
    default:
      break;
  }
  if (
    e.statusCode === 400 &&
    (error instanceof SyntaxError || /JSON|prototype|constructor/i.test(e.message ?? ''))
  ) {
    return make('malformed_body', `request body is not valid JSON: ${e.message ?? ''}`.trim());
  }
  return make('internal', 'an internal error occurred; see the server log with this request id');
}
