import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { type Json, signAssertion, type TestAgent, tokenForm } from './oauth-client.js';
import type { TestServer } from './server.js';

/** Polls `check` every `everyMs` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 5000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A `fetch` whose connections leave from `localAddress` (any 127.x.y.z works on
 * loopback): how a test makes requests appear to come from another machine.
 * Streams the response body, so MCP's event streams work through it.
 */
export function fetchFrom(localAddress: string): typeof fetch {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
      const raw = init?.body;
      const body =
        raw === undefined || raw === null
          ? undefined
          : typeof raw === 'string'
            ? raw
            : raw instanceof URLSearchParams
              ? raw.toString()
              : raw instanceof Uint8Array
                ? Buffer.from(raw)
                : raw instanceof ArrayBuffer
                  ? Buffer.from(raw)
                  : null;
      if (body === null) {
        reject(new TypeError('fetchFrom: unsupported body type'));
        return;
      }
      if (raw instanceof URLSearchParams && !headers.has('content-type'))
        headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
      const req = httpRequest(
        url,
        { method: init?.method ?? 'GET', headers: Object.fromEntries(headers), localAddress },
        (res) => {
          const out = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (typeof value === 'string') out.set(name, value);
            else if (Array.isArray(value)) for (const v of value) out.append(name, v);
          }
          const status = res.statusCode ?? 0;
          const empty = status === 204 || status === 304;
          if (empty) res.resume();
          resolve(
            new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
              status,
              headers: out,
            }),
          );
        },
      );
      req.on('error', reject);
      init?.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')));
      req.end(body);
    });
}

/** Gets a Bearer token for `agent` at the token endpoint (from `localAddress`, when given). */
export async function issueToken(
  t: Pick<TestServer, 'config'>,
  agent: TestAgent,
  resource: string,
  localAddress?: string,
): Promise<{ status: number; body: Json }> {
  const assertion = await signAssertion(t.config.issuer, agent);
  const send = localAddress ? fetchFrom(localAddress) : fetch;
  const response = await send(`${t.config.issuer}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: tokenForm(agent.id, assertion, { resource }).toString(),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

/** Introspects `token` with an admin token. */
export async function introspect(t: Pick<TestServer, 'config' | 'adminToken'>, token: string): Promise<Json> {
  const response = await fetch(`${t.config.issuer}/oauth/introspect`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Bearer ${t.adminToken}`,
    },
    body: new URLSearchParams({ token }).toString(),
  });
  return (await response.json()) as Json;
}
