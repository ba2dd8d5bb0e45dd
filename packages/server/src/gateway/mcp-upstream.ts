import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import {
  closeUpstreamConnections,
  forwardResponseHeaders,
  relayResponse,
  sendUpstream,
} from './http-forward.js';
import { asMessage, isObject, type JsonRpcId, type JsonRpcResponse } from './json-rpc.js';

export { closeUpstreamConnections };

/** The outcome of sending one message to an HTTP MCP upstream. */
export interface Exchange {
  readonly status: number;
  readonly sessionId: string | null;
  /** The JSON-RPC response to the request, when one came back. */
  readonly message: JsonRpcResponse | null;
  readonly bytes: number;
}

/** Reads a response body (JSON, or an SSE stream) until the response to `id` arrives. */
function readResponse(
  response: IncomingMessage,
  id: JsonRpcId | null,
): Promise<{ message: JsonRpcResponse | null; bytes: number }> {
  const sse = /text\/event-stream/i.test(response.headers['content-type'] ?? '');
  return new Promise((resolve, reject) => {
    let text = '';
    let bytes = 0;
    let done = false;
    const finish = (message: JsonRpcResponse | null) => {
      if (done) return;
      done = true;
      resolve({ message, bytes });
      // the rest of the stream (if any) is drained, not kept
      response.resume();
    };
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (done) return;
      bytes += Buffer.byteLength(chunk);
      text += chunk;
      if (!sse) return;
      let boundary = /\r?\n\r?\n/.exec(text);
      while (boundary) {
        const event = text.slice(0, boundary.index);
        text = text.slice(boundary.index + boundary[0].length);
        const data = event
          .split(/\r?\n/)
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data) {
          try {
            const message = asMessage(JSON.parse(data));
            if (message && 'id' in message && !('method' in message) && message.id === id) {
              finish(message as JsonRpcResponse);
              return;
            }
          } catch {
            // not JSON: ignored
          }
        }
        boundary = /\r?\n\r?\n/.exec(text);
      }
    });
    response.once('end', () => {
      if (sse || text.trim() === '') return finish(null);
      try {
        const message = asMessage(JSON.parse(text));
        finish(message && !('method' in message) ? (message as JsonRpcResponse) : null);
      } catch {
        finish(null);
      }
    });
    response.once('error', reject);
  });
}

export interface UpstreamTarget {
  readonly url: URL;
  readonly headers: OutgoingHttpHeaders;
  readonly timeoutMs: number;
}

function upstreamHeaders(
  target: UpstreamTarget,
  sessionId: string | null,
  protocolVersion: string | null,
  length: number | null,
): OutgoingHttpHeaders {
  // added to a copy rather than spread together (see `entry` in call-pipeline.ts)
  const headers: OutgoingHttpHeaders = Object.assign({}, target.headers);
  headers.accept = 'application/json, text/event-stream';
  if (length !== null) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = length;
  }
  if (sessionId) headers['mcp-session-id'] = sessionId;
  if (protocolVersion) headers['mcp-protocol-version'] = protocolVersion;
  return headers;
}

/** POSTs one message and waits for its response (list methods and `initialize`, which the gateway reads). */
export async function exchange(
  target: UpstreamTarget,
  body: Buffer,
  id: JsonRpcId | null,
  sessionId: string | null,
  protocolVersion: string | null,
): Promise<Exchange> {
  const { response } = sendUpstream({
    url: target.url,
    method: 'POST',
    headers: upstreamHeaders(target, sessionId, protocolVersion, body.length),
    body,
    timeoutMs: target.timeoutMs,
  });
  const res = await response;
  const header = res.headers['mcp-session-id'];
  const newSession = typeof header === 'string' && /^[\x21-\x7e]{1,512}$/.test(header) ? header : null;
  if (res.statusCode !== 200) {
    res.resume();
    return { status: res.statusCode ?? 502, sessionId: newSession, message: null, bytes: 0 };
  }
  const { message, bytes } = await readResponse(res, id);
  return { status: 200, sessionId: newSession, message, bytes };
}

/**
 * POSTs one message (or opens the GET stream) and streams the upstream's answer
 * to the agent as it comes (JSON or SSE), with hop-by-hop and upstream-only
 * headers removed. Resolves with the status and the bytes relayed.
 */
export async function relay(
  target: UpstreamTarget,
  method: 'POST' | 'GET' | 'DELETE',
  body: Buffer | null,
  sessionId: string | null,
  protocolVersion: string | null,
  res: ServerResponse,
  extraHeaders: OutgoingHttpHeaders = {},
): Promise<{ status: number; bytes: number }> {
  const headers = Object.assign(
    upstreamHeaders(target, sessionId, protocolVersion, body ? body.length : null),
    extraHeaders,
  );
  const { response, abort } = sendUpstream({
    url: target.url,
    method,
    headers,
    body,
    timeoutMs: method === 'GET' ? 0 : target.timeoutMs,
  });
  res.once('close', abort);
  const upstream = await response;
  const status = upstream.statusCode ?? 502;
  if (status === 401 || status === 403) {
    upstream.resume();
    return { status, bytes: 0 };
  }
  const answerHeaders = forwardResponseHeaders(upstream.headers, 'mcp');
  answerHeaders['cache-control'] = 'no-store';
  const bytes = await relayResponse(upstream, res, status, answerHeaders);
  return { status, bytes };
}

/** The `result` object of a response, when it is one. */
export function resultOf(message: JsonRpcResponse | null): Record<string, unknown> | null {
  return message && !message.error && isObject(message.result) ? message.result : null;
}
