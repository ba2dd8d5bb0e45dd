import type { IncomingMessage, ServerResponse } from 'node:http';
import { approvalView } from '../governance/approvals.js';
import { AGENT_INACTIVE, USER_INACTIVE } from '../policy/index.js';
import {
  authorizeCall,
  type CallFacts,
  CallRefused,
  type CallResult,
  callerContext,
  consentCovers,
  failedCall,
  NO_CREDENTIAL,
  UNREACHABLE,
  visibleIn,
} from './call-pipeline.js';
import type { GatewayContext, McpServerState } from './context.js';
import { GatewayError } from './gateway-error.js';
import { parsedUrl, readBody } from './http-forward.js';
import {
  asMessage,
  isNotification,
  isObject,
  isRequest,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
  RPC,
  rpcError,
  SUPPORTED_PROTOCOL_VERSIONS,
} from './json-rpc.js';
import { exchange, relay, resultOf, type UpstreamTarget } from './mcp-upstream.js';
import type { McpSession } from './sessions.js';
import type { VerifiedCaller } from './token-check.js';
import { toolId } from './upstream-spec.js';

/** Methods forwarded without a decision: session plumbing, and follow-ups of calls already decided. */
const PLUMBING = new Set([
  'ping',
  'logging/setLevel',
  'tasks/get',
  'tasks/list',
  'tasks/result',
  'tasks/cancel',
]);
/** Methods whose result the gateway filters to what the agent may use. */
const LISTINGS = new Set(['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list']);

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** What a call asks for, in Cedar terms; null for methods that are not decided. */
/** The approval reference in a request's `_meta`, if it names one. */
function approvalReference(message: JsonRpcRequest): string | null {
  const meta = message.params?._meta;
  const value = isObject(meta) ? meta[APPROVAL_META] : undefined;
  return typeof value === 'string' && value !== '' ? value : null;
}

function callFacts(
  server: string,
  message: JsonRpcRequest,
): Pick<CallFacts, 'action' | 'resource' | 'context' | 'args'> | string | null {
  const params = message.params ?? {};
  switch (message.method) {
    case 'tools/call': {
      if (typeof params.name !== 'string' || params.name === '') return '`params.name` must name the tool';
      if (params.arguments !== undefined && !isObject(params.arguments))
        return '`params.arguments` must be an object';
      const input = params.arguments ?? {};
      return {
        action: 'tools/call',
        resource: { type: 'Tool', id: toolId(server, params.name) },
        context: { input, server, tool: params.name },
        args: input,
      };
    }
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe': {
      if (typeof params.uri !== 'string') return '`params.uri` must be a string';
      return {
        action: 'resources/read',
        resource: { type: 'McpServer', id: server },
        context: { uri: params.uri, server },
        args: { uri: params.uri },
      };
    }
    case 'prompts/get': {
      if (typeof params.name !== 'string') return '`params.name` must name the prompt';
      return {
        action: 'prompts/get',
        resource: { type: 'McpServer', id: server },
        context: { name: params.name, server },
        args: params.arguments ?? {},
      };
    }
    case 'completion/complete': {
      // completing a prompt's or resource's arguments reveals them: decided like using them
      const ref = isObject(params.ref) ? params.ref : {};
      if (ref.type === 'ref/prompt' && typeof ref.name === 'string')
        return {
          action: 'prompts/get',
          resource: { type: 'McpServer', id: server },
          context: { name: ref.name, server },
          args: params.argument ?? {},
        };
      if (ref.type === 'ref/resource' && typeof ref.uri === 'string')
        return {
          action: 'resources/read',
          resource: { type: 'McpServer', id: server },
          context: { uri: ref.uri, server },
          args: params.argument ?? {},
        };
      return '`params.ref` must be a prompt or resource reference';
    }
    default:
      return null;
  }
}

/**
 * The MCP gateway at `/mcp/{server}` (Streamable HTTP). Every request carries
 * the agent's token (checked for this server's resource URI, with DPoP when
 * bound); sessions are bound to the agent that opened them; calls are decided
 * per tool with their arguments; listings show only what the agent may use.
 * The agent's token never goes upstream: the gateway presents its own credential.
 */
export async function handleMcp(
  ctx: GatewayContext,
  state: McpServerState,
  req: IncomingMessage,
  res: ServerResponse,
  early: VerifiedCaller,
  requestId: string,
  proven: Promise<VerifiedCaller> | null = null,
): Promise<void> {
  const method = req.method ?? 'GET';
  const sessionHeader = req.headers['mcp-session-id'];
  const protocol = req.headers['mcp-protocol-version'];
  if (typeof protocol === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(protocol)) {
    throw new GatewayError('invalid_request', `unsupported MCP protocol version \`${protocol}\``);
  }
  const session = typeof sessionHeader === 'string' ? findSession(ctx, state, sessionHeader, early) : null;
  if (method === 'POST') return post(ctx, state, req, res, early, session, requestId, proven);
  const caller = proven ? await proven : early;
  if (!session) throw new GatewayError('invalid_request', 'missing `Mcp-Session-Id` header');
  touchSession(ctx, session, caller);
  if (method === 'GET') return openStream(ctx, state, req, res, session);
  if (method === 'DELETE') {
    ctx.sessions.close(session.id);
    const target = await upstreamTarget(ctx, state);
    if (target && session.upstreamSessionId) {
      await relay(target, 'DELETE', null, session.upstreamSessionId, session.protocolVersion, res).catch(
        () => undefined,
      );
    }
    if (!res.headersSent) res.writeHead(200, { 'content-length': '0' }).end();
    return;
  }
  throw new GatewayError('method_not_allowed', `\`${method}\` is not part of the MCP transport`, {
    allow: 'GET, POST, DELETE',
  });
}

/** The session a request names, if the caller's agent opened it (nothing changed: see {@link touchSession}). */
function findSession(
  ctx: GatewayContext,
  state: McpServerState,
  id: string,
  caller: VerifiedCaller,
): McpSession {
  const session = ctx.sessions.get(id);
  if (!session || session.server !== state.server.name)
    throw new GatewayError('not_found', 'unknown MCP session: initialize a new one');
  if (session.agentId !== caller.agentId)
    throw new GatewayError('forbidden', 'this MCP session was opened by another agent');
  return session;
}

/** A request of the session's agent, its proof (if any) checked: the session is in use, with this token. */
function touchSession(ctx: GatewayContext, session: McpSession, caller: VerifiedCaller): void {
  session.lastSeenAt = ctx.clock.now();
  session.tokenId = caller.tokenId;
}

async function upstreamTarget(ctx: GatewayContext, state: McpServerState): Promise<UpstreamTarget | null> {
  const transport = state.server.spec.transport;
  if (transport.type !== 'http') return null;
  return {
    url: parsedUrl(transport.url),
    headers: await ctx.credentials.headers(`mcp:${state.server.name}`, state.server.spec.auth),
    timeoutMs: ctx.settings.upstreamTimeoutMs,
  };
}

/** The answer to a body that is not one JSON-RPC message. */
class Unparsed {
  constructor(
    readonly status: number,
    readonly answer: unknown,
  ) {}
}

/** The body as one JSON-RPC message, or the error answer to it. */
function parseMessage(body: Buffer): JsonRpcMessage | Unparsed {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return new Unparsed(400, rpcError(null, RPC.parseError, 'the body is not JSON'));
  }
  if (Array.isArray(parsed))
    return new Unparsed(400, rpcError(null, RPC.invalidRequest, 'JSON-RPC batches are not supported'));
  return (
    asMessage(parsed) ??
    new Unparsed(400, rpcError(null, RPC.invalidRequest, 'the body is not a JSON-RPC 2.0 message'))
  );
}

async function post(
  ctx: GatewayContext,
  state: McpServerState,
  req: IncomingMessage,
  res: ServerResponse,
  early: VerifiedCaller,
  session: McpSession | null,
  requestId: string,
  proven: Promise<VerifiedCaller> | null,
): Promise<void> {
  const body = await readBody(req, ctx.settings.bodyLimit, ctx.settings.upstreamTimeoutMs).catch(
    (error: unknown) => {
      throw new GatewayError('invalid_request', 'the request body could not be read', {}, { cause: error });
    },
  );
  if (body === null)
    throw new GatewayError('payload_too_large', `the request body exceeds ${ctx.settings.bodyLimit} bytes`);
  const message = parseMessage(body);
  const facts =
    session && !(message instanceof Unparsed) && isRequest(message) && !LISTINGS.has(message.method)
      ? callFacts(state.server.name, message)
      : null;
  // A call in a session (tools/call, resources/read, prompts/get, completion/complete…) is
  // decided while a DPoP proof's signature is still being checked: authorizeCall waits for it
  // before it acts. Every other request waits for it here, before it is answered or changes anything.
  if (proven && session && facts !== null && typeof facts === 'object') {
    return call(
      ctx,
      state,
      req,
      res,
      early,
      session,
      requestId,
      body,
      message as JsonRpcRequest,
      facts,
      undefined,
      proven,
    );
  }
  const caller = proven ? await proven : early;
  if (session) touchSession(ctx, session, caller);
  if (message instanceof Unparsed) return sendJson(res, message.status, message.answer);

  if (isRequest(message) && message.method === 'initialize') {
    if (session)
      return sendJson(
        res,
        400,
        rpcError(message.id, RPC.invalidRequest, 'the session is already initialized'),
      );
    return initialize(ctx, state, res, caller, message, body, requestId, req);
  }
  if (!session)
    return sendJson(
      res,
      400,
      rpcError(
        isRequest(message) ? message.id : null,
        RPC.invalidRequest,
        'missing `Mcp-Session-Id`: initialize first',
      ),
    );

  const target = await upstreamTarget(ctx, state);
  if (!isRequest(message)) {
    // notifications and the agent's answers to upstream requests
    if (target) {
      await relay(target, 'POST', body, session.upstreamSessionId, session.protocolVersion, res);
      if (!res.headersSent)
        throw new GatewayError('upstream_error', "the upstream refused the gateway's credentials");
    } else {
      if (
        isNotification(message) &&
        message.method !== 'notifications/initialized' &&
        message.method !== 'notifications/cancelled'
      ) {
        state.stdio?.notify(message.method, message.params);
      }
      res.writeHead(202, { 'content-length': '0' }).end();
    }
    return;
  }

  const sourceAddress = req.socket.remoteAddress ?? '';
  if (LISTINGS.has(message.method))
    return listing(ctx, state, res, caller, session, message, body, target, sourceAddress);
  if (typeof facts === 'string') return sendJson(res, 200, rpcError(message.id, RPC.invalidParams, facts));
  if (facts === null && !PLUMBING.has(message.method)) {
    return sendJson(
      res,
      200,
      rpcError(message.id, RPC.methodNotFound, `\`${message.method}\` is not allowed through the gateway`),
    );
  }
  if (facts === null) {
    if (target) {
      await relay(target, 'POST', body, session.upstreamSessionId, session.protocolVersion, res);
      if (!res.headersSent)
        throw new GatewayError('upstream_error', "the upstream refused the gateway's credentials");
      return;
    }
    if (message.method === 'ping') return sendJson(res, 200, { jsonrpc: '2.0', id: message.id, result: {} });
    await forwardStdio(ctx, state, res, message);
    return;
  }
  return call(ctx, state, req, res, caller, session, requestId, body, message, facts, target, null);
}

/**
 * A decided call (tools/call, resources/read, prompts/get…): authorized, then
 * relayed, then recorded. With `proven` pending, `early` is the caller as its
 * token says (its proof not yet known): the session is touched and the
 * upstream's credential looked up only once the proof checked out (authorizeCall
 * waits for it); `target` is then undefined.
 */
async function call(
  ctx: GatewayContext,
  state: McpServerState,
  req: IncomingMessage,
  res: ServerResponse,
  early: VerifiedCaller,
  session: McpSession,
  requestId: string,
  body: Buffer,
  message: JsonRpcRequest,
  facts: Exclude<ReturnType<typeof callFacts>, string | null>,
  known: UpstreamTarget | null | undefined,
  proven: Promise<VerifiedCaller> | null,
): Promise<void> {
  const sourceAddress = req.socket.remoteAddress ?? '';
  const pending = proven?.then((caller) => ({ caller, sessionCalls: session.calls })) ?? null;
  pending?.catch(() => undefined); // (awaited by authorizeCall, unless it refuses first)
  let authorized: Awaited<ReturnType<typeof authorizeCall>>;
  try {
    authorized = await authorizeCall(
      ctx.pipeline,
      early,
      {
        // members named one by one, not spread: see `entry` in call-pipeline.ts
        action: facts.action,
        resource: facts.resource,
        context: facts.context,
        args: facts.args,
        gateway: 'mcp',
        upstream: `mcp:${state.server.name}`,
        upstreamName: state.server.name,
        method: message.method,
        limits: state.server.spec.limits,
        sessionCalls: session.calls,
        sessionId: session.id,
        sourceAddress,
        requestId,
        approval: approvalReference(message),
        shown: () => Object.assign({ server: state.server.name, method: message.method }, facts.context),
      },
      pending,
    );
  } catch (error) {
    if (!(error instanceof CallRefused)) throw error;
    if (proven) touchSession(ctx, session, early);
    return refuse(res, message.id, error, ctx.clock.now());
  }
  if (proven) touchSession(ctx, session, early);
  session.calls++;
  let target = known;
  if (target === undefined) {
    try {
      target = await upstreamTarget(ctx, state);
    } catch (error) {
      authorized.finish(failedCall(NO_CREDENTIAL, body.length));
      throw error;
    }
  }
  let result: CallResult;
  try {
    if (target) {
      const relayed = await relay(
        target,
        'POST',
        body,
        session.upstreamSessionId,
        session.protocolVersion,
        res,
      );
      if (!res.headersSent) {
        if (relayed.status === 401 || relayed.status === 403)
          ctx.credentials.refused(`mcp:${state.server.name}`);
        result = {
          upstreamStatus: relayed.status,
          outcome: 'failure',
          bytesIn: body.length,
          bytesOut: 0,
          error: "the upstream refused the gateway's credentials",
        };
        sendJson(
          res,
          200,
          rpcError(message.id, RPC.upstreamError, "the upstream refused the gateway's credentials"),
        );
      } else {
        result = {
          upstreamStatus: relayed.status,
          outcome: relayed.status < 400 ? 'success' : 'failure',
          bytesIn: body.length,
          bytesOut: relayed.bytes,
        };
        if (relayed.status === 404) ctx.sessions.close(session.id);
      }
    } else {
      const bytes = await forwardStdio(ctx, state, res, message);
      result = {
        upstreamStatus: null,
        outcome: bytes.error ? 'failure' : 'success',
        bytesIn: body.length,
        bytesOut: bytes.bytes,
      };
    }
  } catch (error) {
    result = failedCall(UNREACHABLE, body.length);
    ctx.logger.warn({ err: error, server: state.server.name, requestId }, 'MCP upstream call failed');
    if (!res.headersSent)
      sendJson(
        res,
        200,
        rpcError(
          message.id,
          RPC.upstreamError,
          `the MCP server \`${state.server.name}\` could not be reached`,
        ),
      );
    else res.destroy();
  }
  authorized.finish(result);
}

/** Where an MCP client puts an approval reference: `params._meta["custos/approval"]`. */
export const APPROVAL_META = 'custos/approval';

function refuse(res: ServerResponse, id: JsonRpcId, error: CallRefused, now: number): void {
  if (error.kind === 'approval_required' && error.detail.approval) {
    sendJson(
      res,
      200,
      rpcError(id, RPC.approvalRequired, error.message, {
        reason: error.detail.reason,
        policies: error.detail.policies ?? [],
        approval: approvalView(error.detail.approval, now),
      }),
    );
    return;
  }
  if (error.kind === 'rate_limited') {
    const retryAfterMs = error.detail.retryAfterMs ?? 1000;
    sendJson(res, 200, rpcError(id, RPC.rateLimited, error.message, { retryAfterMs }), {
      'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
    });
    return;
  }
  sendJson(
    res,
    200,
    rpcError(id, RPC.refused, error.message, {
      reason: error.detail.reason,
      policies: error.detail.policies ?? [],
    }),
  );
}

/** Sends a request to the stdio server under a gateway id and answers with the agent's id. */
async function forwardStdio(
  ctx: GatewayContext,
  state: McpServerState,
  res: ServerResponse,
  message: JsonRpcRequest,
): Promise<{ bytes: number; error: boolean }> {
  const stdio = state.stdio;
  if (!stdio) throw new GatewayError('upstream_error', 'the MCP server is not running');
  const answer = await stdio.request(message.method, message.params, ctx.settings.upstreamTimeoutMs);
  const out: JsonRpcResponse = answer.error
    ? { jsonrpc: '2.0', id: message.id, error: answer.error }
    : { jsonrpc: '2.0', id: message.id, result: answer.result };
  const text = JSON.stringify(out);
  sendJson(res, 200, out);
  return { bytes: Buffer.byteLength(text), error: answer.error !== undefined };
}

async function initialize(
  ctx: GatewayContext,
  state: McpServerState,
  res: ServerResponse,
  caller: VerifiedCaller,
  message: JsonRpcRequest,
  body: Buffer,
  requestId: string,
  req: IncomingMessage,
): Promise<void> {
  ctx.pipeline.audit.admit();
  const requested =
    typeof message.params?.protocolVersion === 'string' ? message.params.protocolVersion : null;
  const session = ctx.sessions.open(state.server.name, caller.agentId, caller.tokenId, ctx.clock.now());
  let response: JsonRpcResponse;
  const target = await upstreamTarget(ctx, state);
  try {
    if (target) {
      const answer = await exchange(target, body, message.id, null, null);
      if (answer.status === 401 || answer.status === 403) ctx.credentials.refused(`mcp:${state.server.name}`);
      if (answer.status !== 200 || !answer.message) {
        ctx.sessions.close(session.id);
        return sendJson(
          res,
          200,
          rpcError(
            message.id,
            RPC.upstreamError,
            `the MCP server \`${state.server.name}\` did not initialize (HTTP ${answer.status})`,
          ),
        );
      }
      session.upstreamSessionId = answer.sessionId;
      response = { ...answer.message, id: message.id };
      if (answer.sessionId) {
        // the upstream's session starts once it hears `initialized`
        await exchange(
          target,
          Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })),
          null,
          answer.sessionId,
          null,
        ).catch(() => undefined);
      }
    } else {
      const hello = await (state.stdio as NonNullable<typeof state.stdio>).start();
      response = {
        jsonrpc: '2.0',
        id: message.id,
        result: {
          protocolVersion:
            requested && SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : hello.protocolVersion,
          capabilities: hello.capabilities,
          serverInfo: hello.serverInfo,
          ...(hello.instructions ? { instructions: hello.instructions } : {}),
        },
      };
    }
  } catch (error) {
    ctx.sessions.close(session.id);
    ctx.logger.warn({ err: error, server: state.server.name, requestId }, 'MCP upstream did not initialize');
    return sendJson(
      res,
      200,
      rpcError(message.id, RPC.upstreamError, `the MCP server \`${state.server.name}\` could not be reached`),
    );
  }
  const result = resultOf(response);
  session.protocolVersion = typeof result?.protocolVersion === 'string' ? result.protocolVersion : requested;
  void ctx.pipeline.audit.record(
    { type: 'agent', id: caller.agentId, role: 'agent', userId: caller.onBehalfOf, requestId },
    {
      action: 'gateway.session.open',
      target: { type: 'mcp_server', id: state.server.name },
      details: {
        gateway: 'mcp',
        upstream: state.server.name,
        tokenId: caller.tokenId,
        sourceAddress: req.socket.remoteAddress ?? '',
        protocolVersion: session.protocolVersion,
      },
    },
  );
  sendJson(res, 200, response, { 'mcp-session-id': session.id });
}

async function listing(
  ctx: GatewayContext,
  state: McpServerState,
  res: ServerResponse,
  caller: VerifiedCaller,
  session: McpSession,
  message: JsonRpcRequest,
  body: Buffer,
  target: UpstreamTarget | null,
  sourceAddress: string,
): Promise<void> {
  let answer: JsonRpcResponse;
  if (target) {
    const upstream = await exchange(
      target,
      body,
      message.id,
      session.upstreamSessionId,
      session.protocolVersion,
    );
    if (upstream.status === 404) {
      ctx.sessions.close(session.id);
      throw new GatewayError(
        'not_found',
        'the upstream ended the MCP session: initialize a new one',
        {},
        { unrecorded: true },
      );
    }
    if (upstream.status !== 200 || !upstream.message) {
      if (upstream.status === 401 || upstream.status === 403)
        ctx.credentials.refused(`mcp:${state.server.name}`);
      return sendJson(
        res,
        200,
        rpcError(
          message.id,
          RPC.upstreamError,
          `the MCP server \`${state.server.name}\` failed (HTTP ${upstream.status})`,
        ),
      );
    }
    answer = upstream.message;
  } else {
    answer = await (state.stdio as NonNullable<typeof state.stdio>).request(
      message.method,
      message.params,
      ctx.settings.upstreamTimeoutMs,
    );
  }
  const result = resultOf(answer);
  if (!result) return sendJson(res, 200, { ...answer, id: message.id });
  const server = state.server.name;
  const now = ctx.clock.now();
  const common = callerContext(caller, now, sourceAddress, {
    calls: session.calls,
    callsLastHour: 0,
    resourceCallsLastHour: 0,
  });
  // a delegated caller sees what both the agent and the person it acts for may call
  const principals = [
    { type: 'Agent', id: caller.agentId },
    ...(caller.onBehalfOf ? [{ type: 'User', id: caller.onBehalfOf }] : []),
  ];
  const may = async (
    action: string,
    resource: { type: string; id: string },
    context: Record<string, unknown>,
  ) => {
    if (!consentCovers(caller, resource)) return false;
    for (const principal of principals) {
      const decision = await ctx.pipeline.engine.decide({
        principal,
        action,
        resource,
        context: { ...context, ...common },
      });
      if (!visibleIn(decision, principal.type === 'User' ? USER_INACTIVE : AGENT_INACTIVE)) return false;
    }
    return true;
  };
  const filter = async (key: string, check: (item: Record<string, unknown>) => Promise<boolean>) => {
    const items = Array.isArray(result[key]) ? (result[key] as unknown[]) : [];
    const kept: unknown[] = [];
    for (const item of items) if (isObject(item) && (await check(item))) kept.push(item);
    return { ...result, [key]: kept };
  };
  let filtered: Record<string, unknown>;
  switch (message.method) {
    case 'tools/list':
      filtered = await filter('tools', (t) =>
        typeof t.name === 'string' && state.known.has(t.name)
          ? may('tools/call', { type: 'Tool', id: toolId(server, t.name) }, { server, tool: t.name })
          : Promise.resolve(false),
      );
      break;
    case 'resources/list':
      filtered = await filter('resources', (r) =>
        may('resources/read', { type: 'McpServer', id: server }, { uri: String(r.uri), server }),
      );
      break;
    case 'resources/templates/list':
      filtered = await filter('resourceTemplates', (r) =>
        may('resources/read', { type: 'McpServer', id: server }, { uri: String(r.uriTemplate), server }),
      );
      break;
    default:
      filtered = await filter('prompts', (p) =>
        may('prompts/get', { type: 'McpServer', id: server }, { name: String(p.name), server }),
      );
  }
  sendJson(res, 200, { jsonrpc: '2.0', id: message.id, result: filtered });
}

async function openStream(
  ctx: GatewayContext,
  state: McpServerState,
  req: IncomingMessage,
  res: ServerResponse,
  session: McpSession,
): Promise<void> {
  const target = await upstreamTarget(ctx, state);
  if (!target)
    // (clients ask for the stream after every `initialize`: an answer, not a refusal to record)
    throw new GatewayError(
      'method_not_allowed',
      'this MCP server offers no server-to-agent stream',
      { allow: 'POST, DELETE' },
      { unrecorded: true },
    );
  session.streams.add(res);
  res.once('close', () => session.streams.delete(res));
  const lastEventId = req.headers['last-event-id'];
  await relay(
    target,
    'GET',
    null,
    session.upstreamSessionId,
    session.protocolVersion,
    res,
    typeof lastEventId === 'string' ? { 'last-event-id': lastEventId } : {},
  );
  if (!res.headersSent)
    throw new GatewayError('upstream_error', "the upstream refused the gateway's credentials");
}
