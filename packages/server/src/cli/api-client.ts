/** A failure the CLI reports as one line on stderr before exiting non-zero. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface ApiOptions {
  readonly url?: string | undefined;
  readonly token?: string | undefined;
}

export interface ApiClient {
  call<T>(method: string, path: string, body?: unknown): Promise<T>;
}

/**
 * A thin client of the admin API. Problem responses become a {@link CliError}
 * carrying the server's `detail` (and the first field error, when there is one).
 */
export function apiClient(options: ApiOptions): ApiClient {
  const base = (options.url ?? process.env.CUSTOS_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = options.token ?? process.env.CUSTOS_TOKEN;
  return {
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      if (!token) throw new CliError('no admin token: pass --token or set CUSTOS_TOKEN');
      let response: Response;
      try {
        response = await fetch(`${base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (error) {
        throw new CliError(`cannot reach Custos at ${base}: ${causeMessage(error)}`);
      }
      const text = await response.text();
      let payload: unknown = null;
      try {
        payload = text ? JSON.parse(text) : null;
      } catch {
        throw new CliError(`unexpected response from ${base} (HTTP ${response.status}): not JSON`);
      }
      if (!response.ok) {
        const problem = (payload ?? {}) as { detail?: string; title?: string };
        throw new CliError(
          `${problem.detail ?? problem.title ?? 'request failed'} (HTTP ${response.status})`,
        );
      }
      return payload as T;
    },
  };
}

function causeMessage(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  const root = cause instanceof Error ? cause : error instanceof Error ? error : null;
  return root?.message ?? String(error);
}
