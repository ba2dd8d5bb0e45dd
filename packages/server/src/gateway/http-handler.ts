import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { approvalView } from '../governance/approvals.js';
import {
  authorizeCall,
  CallRefused,
  type CallResult,
  failedCall,
  NO_CREDENTIAL,
  type PendingProof,
  UNREACHABLE,
} from './call-pipeline.js';
import type { GatewayContext, HttpApiState } from './context.js';
import { GatewayError } from './gateway-error.js';
import {
  declaredLength,
  forwardRequestHeaders,
  forwardResponseHeaders,
  parsedUrl,
  readBody,
  relayResponse,
  sendUpstream,
  WHOLE_BODY_LIMIT,
} from './http-forward.js';
import { matchPattern } from './route-pattern.js';
import type { VerifiedCaller } from './token-check.js';
import { HTTP_METHODS, type HttpMethod, routeId } from './upstream-spec.js';

function problem(
  res: ServerResponse,
  status: number,
  title: string,
  detail: string,
  requestId: string,
  headers: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): void {
  const text = JSON.stringify({
    type: `urn:custos:problem:gateway-${title.toLowerCase().replace(/[^a-z]+/g, '-')}`,
    title,
    status,
    detail,
    requestId,
    ...extra,
  });
  res.writeHead(status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** The header an HTTP API call carries an approval reference in. */
export const APPROVAL_HEADER = 'custos-approval';

/** Counts (and caps) the bytes of a streamed request body. */
function byteCap(limit: number, counter: { bytes: number; over: boolean }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      counter.bytes += chunk.length;
      if (counter.bytes > limit) {
        counter.over = true;
        callback(new GatewayError('payload_too_large', `the request body exceeds ${limit} bytes`));
        return;
      }
      callback(null, chunk);
    },
  });
}

/** Why a call whose body streams through cannot be approved (see `CallFacts.unapprovable`). */
const UNAPPROVABLE = `it needs an approval, which binds the request body: send the body with a Content-Length of at most ${WHOLE_BODY_LIMIT / 1024} KiB`;

/** Bodies up to this size are shown to an approver as text; larger ones by size and digest. */
const SHOWN_BODY_LIMIT = 4096;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A body read whole, as a call's arguments name it: its size, SHA-256, and the
 * headers that say how to read it (what an approval binds and the record's
 * argument hash covers).
 */
function bodyDigest(body: Buffer, headers: IncomingMessage['headers']): Record<string, unknown> {
  const encoding = headers['content-encoding'];
  return {
    bytes: body.length,
    sha256: createHash('sha256').update(body).digest('base64url'),
    type: headers['content-type'] ?? null,
    ...(encoding !== undefined ? { encoding } : {}),
  };
}

/**
 * The body as an approver is shown it: its digest, and its text exactly as
 * sent when it is small UTF-8 (no other charset, no content coding), not
 * parsed, so that what is shown is what the upstream reads.
 */
function shownBody(body: Buffer, digest: Record<string, unknown>): Record<string, unknown> {
  const type = typeof digest.type === 'string' ? digest.type.toLowerCase() : '';
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/.exec(type)?.[1];
  if (body.length === 0 || body.length > SHOWN_BODY_LIMIT || digest.encoding !== undefined) return digest;
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return digest;
  try {
    const text = utf8.decode(body);
    return { ...digest, text };
  } catch {
    return digest; // not UTF-8: shown by size and digest only
  }
}

/**
 * The HTTP gateway at `/gw/{api}/{path…}`: the request must match one of the
 * API's routes (method + path pattern), which names the Cedar resource
 * `Route::"<api>/<METHOD> <pattern>"` and action `http:<METHOD>`. The body is
 * streamed both ways, capped in size; hop-by-hop headers and the agent's
 * credentials are dropped; the gateway's own credential for the upstream is added.
 */
export async function handleHttpApi(
  ctx: GatewayContext,
  state: HttpApiState,
  req: IncomingMessage,
  res: ServerResponse,
  caller: VerifiedCaller,
  path: string,
  query: string,
  requestId: string,
  tokenCalls: number,
  pending: PendingProof | null = null,
): Promise<void> {
  // A call is decided while a DPoP proof's signature is checked: authorizeCall waits for it
  // before it acts, and any other answer waits for it here (or in Gateway.serve, for errors).
  const method = (req.method ?? 'GET').toUpperCase();
  if (!(HTTP_METHODS as readonly string[]).includes(method)) {
    throw new GatewayError('method_not_allowed', `\`${method}\` is not proxied`, {
      allow: HTTP_METHODS.join(', '),
    });
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (Number.isFinite(declared) && declared > ctx.settings.bodyLimit) {
    throw new GatewayError('payload_too_large', `the request body exceeds ${ctx.settings.bodyLimit} bytes`);
  }
  let matched: { route: (typeof state.routes)[number]; params: Record<string, string> } | null = null;
  for (const route of state.routes) {
    if (route.spec.method !== method) continue;
    const params = matchPattern(route.pattern, path);
    if (params) {
      matched = { route, params };
      break;
    }
  }
  if (!matched) {
    if (pending) await pending;
    return problem(
      res,
      404,
      'No route',
      `no route of \`${state.api.name}\` matches \`${method} ${path}\``,
      requestId,
    );
  }
  const api = state.api;
  const rid = routeId(api.name, matched.route.spec);
  const hasBody =
    method !== 'GET' && method !== 'HEAD' && (declared > 0 || req.headers['transfer-encoding'] !== undefined);
  // A small body of declared length is read whole before the call is decided (the parser
  // holds it to that length), so that its digest is part of the call's arguments: an
  // approval binds it, the record's argument hash covers it, the approver is shown it.
  // Others stream through the size cap once the call is allowed; no approval can bind them.
  const length = hasBody ? declaredLength(req.headers) : null;
  let whole: Buffer | null = null;
  if (length !== null && length <= WHOLE_BODY_LIMIT) {
    whole = await readBody(req, length, ctx.settings.upstreamTimeoutMs).catch(() => null);
    if (!whole) {
      // the agent went away or stalled (or sent less than it declared): nothing was sent upstream
      throw new GatewayError('invalid_request', 'the request body could not be read');
    }
  }
  const digest = whole ? bodyDigest(whole, req.headers) : null;
  let call: Awaited<ReturnType<typeof authorizeCall>>;
  try {
    call = await authorizeCall(
      ctx.pipeline,
      caller,
      {
        gateway: 'http',
        upstream: `http:${api.name}`,
        upstreamName: api.name,
        method,
        action: `http:${method as HttpMethod}`,
        resource: { type: 'Route', id: rid },
        context: { api: api.name, path, params: matched.params },
        args: digest ? { path, query, body: digest } : { path, query },
        limits: api.spec.limits,
        sessionCalls: tokenCalls,
        sessionId: null,
        sourceAddress: req.socket.remoteAddress ?? '',
        requestId,
        approval: typeof req.headers[APPROVAL_HEADER] === 'string' ? req.headers[APPROVAL_HEADER] : null,
        // (built only if an approval request is opened)
        shown: () => ({
          api: api.name,
          method,
          path,
          query,
          ...(whole && digest ? { body: shownBody(whole, digest) } : {}),
        }),
        ...(hasBody && !whole ? { unapprovable: UNAPPROVABLE } : {}),
      },
      pending,
    );
  } catch (error) {
    if (!(error instanceof CallRefused)) throw error;
    if (error.kind === 'approval_required' && error.detail.approval) {
      return problem(
        res,
        403,
        'Approval required',
        error.message,
        requestId,
        {},
        {
          approval: approvalView(error.detail.approval, ctx.clock.now()),
        },
      );
    }
    if (error.kind === 'rate_limited') {
      const seconds = Math.max(1, Math.ceil((error.detail.retryAfterMs ?? 1000) / 1000));
      return problem(res, 429, 'Rate limited', error.message, requestId, { 'retry-after': String(seconds) });
    }
    return problem(res, 403, 'Refused', error.message, requestId);
  }

  const base = parsedUrl(api.spec.baseUrl);
  const url = new URL(`${base.pathname.replace(/\/$/, '')}${path}${query}`, base);
  const counter = { bytes: whole?.length ?? 0, over: false };
  let credentials: Record<string, string>;
  try {
    credentials = await ctx.credentials.headers(`http:${api.name}`, api.spec.auth);
  } catch (error) {
    // the call was authorized (and, in `durable` mode, recorded as such): its record says why it failed
    call.finish(failedCall(NO_CREDENTIAL, 0));
    throw error;
  }
  // added to the forwarded copy rather than spread together (see `entry` in call-pipeline.ts)
  const headers = Object.assign(forwardRequestHeaders(req.headers), credentials);
  headers['x-request-id'] = requestId;
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  headers['x-forwarded-proto'] = parsedUrl(ctx.settings.issuer).protocol.replace(':', '');
  if (hasBody && req.headers['content-length']) headers['content-length'] = req.headers['content-length'];
  let result: CallResult;
  const cap = hasBody && !whole ? byteCap(ctx.settings.bodyLimit, counter) : null;
  const { response, abort } = sendUpstream({
    url,
    method,
    headers,
    body: whole ?? (cap ? req.pipe(cap) : null),
    timeoutMs: ctx.settings.upstreamTimeoutMs,
  });
  cap?.once('error', () => abort());
  res.once('close', () => {
    if (!res.writableFinished) abort();
  });
  try {
    const upstream = await response;
    const status = upstream.statusCode ?? 502;
    if (status === 401 || status === 403) ctx.credentials.refused(`http:${api.name}`);
    const answerHeaders = forwardResponseHeaders(upstream.headers, 'http');
    answerHeaders['x-request-id'] = requestId;
    const bytesOut = await relayResponse(upstream, res, status, answerHeaders);
    result = {
      upstreamStatus: status,
      outcome: status < 500 ? 'success' : 'failure',
      bytesIn: counter.bytes,
      bytesOut,
    };
  } catch (error) {
    if (counter.over) {
      result = failedCall('request body too large', counter.bytes);
      if (!res.headersSent)
        problem(
          res,
          413,
          'Payload too large',
          `the request body exceeds ${ctx.settings.bodyLimit} bytes`,
          requestId,
          { connection: 'close' },
        );
    } else {
      result = failedCall(UNREACHABLE, counter.bytes);
      ctx.logger.warn({ err: error, api: api.name, requestId }, 'HTTP upstream call failed');
      if (!res.headersSent)
        problem(res, 502, 'Upstream error', `the API \`${api.name}\` could not be reached`, requestId);
      else res.destroy();
    }
  }
  call.finish(result);
}
