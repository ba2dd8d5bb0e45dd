import http, {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import https from 'node:https';

/** Connection-scoped headers (RFC 9110 §7.6.1) and the caller's credentials: never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
]);
/** The agent's own credentials stay at the gateway: the upstream gets the gateway's. */
const CALLER_CREDENTIALS = new Set(['authorization', 'dpop', 'cookie']);
/** Upstream response headers about the gateway's own credential, not the agent's. */
const UPSTREAM_ONLY = new Set(['www-authenticate', 'dpop-nonce', 'alt-svc', 'strict-transport-security']);
/** …and for MCP, the upstream's session (the agent has the gateway's) and cookies. */
const MCP_UPSTREAM_ONLY = new Set([...UPSTREAM_ONLY, 'set-cookie', 'mcp-session-id']);

function connectionListed(headers: IncomingHttpHeaders): Set<string> {
  const listed = new Set<string>();
  const value = headers.connection;
  for (const v of Array.isArray(value) ? value : value ? [value] : []) {
    for (const name of v.split(',')) listed.add(name.trim().toLowerCase());
  }
  return listed;
}

/** The agent's request headers as the upstream should see them. */
export function forwardRequestHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionListed(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || CALLER_CREDENTIALS.has(name) || listed.has(name))
      continue;
    // the body is re-framed by the gateway, which sets its length itself
    if (name === 'content-length' || name.startsWith('x-forwarded-') || name === 'forwarded') continue;
    out[name] = value;
  }
  return out;
}

/** The upstream's response headers as the agent should see them. */
export function forwardResponseHeaders(
  headers: IncomingHttpHeaders,
  kind: 'mcp' | 'http',
): OutgoingHttpHeaders {
  const listed = connectionListed(headers);
  const dropped = kind === 'mcp' ? MCP_UPSTREAM_ONLY : UPSTREAM_ONLY;
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || dropped.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Base URLs and the issuer, parsed once each (never mutated: each call builds its own upstream URL). */
const parsedUrls = new Map<string, URL>();
export function parsedUrl(text: string): URL {
  let url = parsedUrls.get(text);
  if (!url) {
    url = new URL(text);
    if (parsedUrls.size >= 1024) parsedUrls.clear();
    parsedUrls.set(text, url);
  }
  return url;
}

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 256, scheduling: 'lifo' }),
  https: new https.Agent({ keepAlive: true, maxSockets: 256, scheduling: 'lifo' }),
};

/** Closes the pooled upstream connections (on shutdown). */
export function closeUpstreamConnections(): void {
  agents.http.destroy();
  agents.https.destroy();
}

export interface UpstreamRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: OutgoingHttpHeaders;
  /** A buffered body, or a stream to pipe (with its byte cap enforced by the caller). */
  readonly body: Buffer | NodeJS.ReadableStream | null;
  readonly timeoutMs: number;
}

/**
 * Sends a request upstream over a pooled keep-alive connection and resolves
 * with the response head (its body still to be read). Rejects when the
 * upstream cannot be reached or does not answer in time.
 */
export function sendUpstream(request: UpstreamRequest): {
  response: Promise<IncomingMessage>;
  abort(): void;
} {
  const secure = request.url.protocol === 'https:';
  const req = (secure ? https : http).request(request.url, {
    method: request.method,
    headers: request.headers,
    agent: secure ? agents.https : agents.http,
    timeout: request.timeoutMs,
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
    req.once('timeout', () =>
      req.destroy(new Error(`the upstream did not answer within ${request.timeoutMs / 1000} s`)),
    );
  });
  if (request.body === null) req.end();
  else if (Buffer.isBuffer(request.body)) req.end(request.body);
  else request.body.pipe(req);
  return { response, abort: () => req.destroy() };
}

/**
 * The body of a message that has already arrived in full (a small one usually
 * comes in the same read as its head), taken at once: no stream events, no
 * turn of the event loop. Null when it has not all arrived, or is being read.
 * All of it has arrived when the parser says the message is complete, or when
 * it holds the declared length (the parser never passes on more than that).
 */
function arrived(message: IncomingMessage): Buffer | null {
  if (message.readableFlowing !== null || message.readableDidRead) return null;
  const length = declaredLength(message.headers);
  if (!message.complete && (length === null || message.readableLength !== length)) return null;
  const data = message.readableLength > 0 ? (message.read(message.readableLength) as Buffer | null) : null;
  // flowing from here on, so the message ends (an upstream response's end returns its connection to the pool)
  message.resume();
  return data ?? Buffer.alloc(0);
}

/**
 * Reads a whole body, refusing more than `limit` bytes (resolves null then).
 * Rejects when the body cannot arrive in full: its sender went away before or
 * while it was read (the message was destroyed or closed before its end), or
 * it took longer than `timeoutMs` (when given).
 */
export function readBody(stream: IncomingMessage, limit: number, timeoutMs = 0): Promise<Buffer | null> {
  const whole = arrived(stream);
  if (whole) return Promise.resolve(whole.length > limit ? null : whole);
  if (stream.destroyed) return Promise.reject(new Error('the body ended before it was complete'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const timer =
      timeoutMs > 0
        ? setTimeout(
            () => settle(() => reject(new Error(`the body did not arrive within ${timeoutMs / 1000} s`))),
            timeoutMs,
          )
        : undefined;
    stream.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) settle(() => resolve(null));
      else chunks.push(chunk);
    });
    stream.once('end', () =>
      settle(() => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks))),
    );
    stream.once('error', (error) => settle(() => reject(error)));
    stream.once('close', () => settle(() => reject(new Error('the body ended before it was complete'))));
  });
}

/**
 * Bodies with a declared length up to this size are read whole and written in
 * one piece (head and body in one write, no stream plumbing per call); larger
 * ones and bodies without a declared length (SSE, chunked) are streamed.
 */
export const WHOLE_BODY_LIMIT = 64 * 1024;

/** The declared length of a message's body, when it has a valid one and no transfer coding. */
export function declaredLength(headers: IncomingHttpHeaders): number | null {
  const value = headers['content-length'];
  if (value === undefined || headers['transfer-encoding'] !== undefined || !/^\d{1,15}$/.test(value))
    return null;
  return Number(value);
}

/**
 * Relays an upstream response to the agent with the given status and headers:
 * small bodies of declared length whole, others streamed as they come.
 * Resolves with the bytes relayed once the body has been passed on, or when
 * either side goes away (the agent's response is destroyed if the upstream's
 * fails midway; a failure before anything was sent rejects, so the caller can
 * still answer with an error).
 */
export function relayResponse(
  upstream: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
): Promise<number> {
  if (!(Number.isInteger(status) && status >= 100 && status <= 599)) {
    upstream.destroy();
    return Promise.reject(new Error(`the upstream answered with an invalid status (${status})`));
  }
  const length = declaredLength(upstream.headers);
  if (length !== null && length <= WHOLE_BODY_LIMIT) {
    // (the parser holds the body to its declared length; a throw here rejects, for the caller to answer)
    return readBody(upstream, length).then((body) => {
      if (res.destroyed) return 0; // the agent went away: nothing was sent
      res.writeHead(status, headers);
      res.end(body ?? Buffer.alloc(0));
      return body?.length ?? 0;
    });
  }
  res.writeHead(status, headers);
  let bytes = 0;
  upstream.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  return new Promise<number>((resolve) => {
    upstream.pipe(res);
    upstream.once('end', () => resolve(bytes));
    upstream.once('error', () => {
      res.destroy();
      resolve(bytes);
    });
    // an upstream that goes away without ending its body leaves the agent's response unfinished
    upstream.once('close', () => {
      if (!upstream.readableEnded) res.destroy();
      resolve(bytes);
    });
    res.once('close', () => resolve(bytes));
  });
}
