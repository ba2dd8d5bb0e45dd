/**
 * The console's only way to the server: the public admin API under /api/v1,
 * authenticated by the session cookie (HttpOnly: this code never sees it) and,
 * on every request that changes something, the CSRF token the sign-in returned.
 */

export interface FieldProblem {
  readonly pointer: string;
  readonly detail: string;
  readonly line?: number;
  readonly column?: number;
}

/** An RFC 9457 problem answered by the API, or a network failure (status 0). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly type: string,
    readonly detail: string,
    readonly errors: readonly FieldProblem[] = [],
    readonly requestId: string | null = null,
  ) {
    super(detail);
  }
}

let csrfToken: string | null = null;
let onSignedOut: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the server says the session has ended (401), so the app can show the sign-in page. */
export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function problemOf(status: number, payload: unknown, requestId: string | null): ApiError {
  if (isRecord(payload) && typeof payload.detail === 'string') {
    const errors = Array.isArray(payload.errors)
      ? payload.errors.filter(
          (e): e is FieldProblem =>
            isRecord(e) && typeof e.pointer === 'string' && typeof e.detail === 'string',
        )
      : [];
    return new ApiError(status, String(payload.type ?? ''), payload.detail, errors, requestId);
  }
  return new ApiError(status, 'about:blank', `the server answered HTTP ${status}`, [], requestId);
}

/**
 * Calls the admin API and returns its JSON body (typed by the caller, who
 * knows the route). Throws {@link ApiError} for any problem answer.
 */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiError(0, 'network', 'cannot reach the Custos server: check your connection and try again');
  }
  const requestId = response.headers.get('x-request-id');
  const text = await response.text();
  let payload: unknown = null;
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = null;
    }
  }
  if (!response.ok) {
    const problem = problemOf(response.status, payload, requestId);
    if (response.status === 401 && !path.endsWith('/api/v1/session')) onSignedOut?.();
    throw problem;
  }
  return payload as T;
}

/** `?a=1&b=x` from the defined values (arrays repeat the key). */
export function query(
  params: Record<string, string | number | boolean | readonly string[] | undefined | null>,
) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) for (const v of value) search.append(key, String(v));
    else search.set(key, String(value));
  }
  const s = search.toString();
  return s ? `?${s}` : '';
}
