import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/** An MCP session through the gateway, bound to the agent that opened it. */
export interface McpSession {
  /** What the agent sends as `Mcp-Session-Id`: 256 random bits, never the upstream's id. */
  readonly id: string;
  readonly server: string;
  readonly agentId: string;
  /** The upstream's own session id (HTTP upstreams that have sessions). */
  upstreamSessionId: string | null;
  protocolVersion: string | null;
  /** The access token of the latest request (re-checked when the agent's tokens may have been revoked). */
  tokenId: string;
  /** Calls made in this session so far (`context.session.calls`). */
  calls: number;
  readonly createdAt: number;
  lastSeenAt: number;
  /** Open server-to-agent streams (GET), closed with the session. */
  readonly streams: Set<ServerResponse>;
}

const IDLE_MS = 30 * 60_000;

/**
 * The sessions of this node. A session lives on the node that opened it: a
 * request for an id this node does not know is answered 404, and the MCP
 * client opens a new session (use session-affine routing across nodes).
 */
export class Sessions {
  private readonly byId = new Map<string, McpSession>();

  open(server: string, agentId: string, tokenId: string, nowMs: number): McpSession {
    const session: McpSession = {
      id: randomBytes(32).toString('base64url'),
      server,
      agentId,
      upstreamSessionId: null,
      protocolVersion: null,
      tokenId,
      calls: 0,
      createdAt: nowMs,
      lastSeenAt: nowMs,
      streams: new Set(),
    };
    this.byId.set(session.id, session);
    return session;
  }

  get(id: string): McpSession | undefined {
    return this.byId.get(id);
  }

  close(id: string): McpSession | undefined {
    const session = this.byId.get(id);
    if (!session) return undefined;
    this.byId.delete(id);
    for (const stream of session.streams) stream.end();
    session.streams.clear();
    return session;
  }

  /** Sessions of an agent (null: all), to re-check when its tokens may have been revoked. */
  of(agentId: string | null): McpSession[] {
    return [...this.byId.values()].filter((s) => agentId === null || s.agentId === agentId);
  }

  /** Sessions of a server (when it is removed). */
  ofServer(server: string): McpSession[] {
    return [...this.byId.values()].filter((s) => s.server === server);
  }

  /** Closes sessions idle for 30 minutes; returns them. */
  expire(nowMs: number): McpSession[] {
    const idle = [...this.byId.values()].filter(
      (s) => s.streams.size === 0 && nowMs - s.lastSeenAt > IDLE_MS,
    );
    for (const s of idle) this.close(s.id);
    return idle;
  }

  all(): McpSession[] {
    return [...this.byId.values()];
  }
}
