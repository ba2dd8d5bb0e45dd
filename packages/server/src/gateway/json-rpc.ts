/** JSON-RPC 2.0 messages as the gateway handles them (MCP uses JSON-RPC). */

/**
 * MCP protocol versions, as `@modelcontextprotocol/sdk` 1.32 knows them. Kept
 * here so the gateway's hot path does not load the SDK (and its schema
 * library) at start; the SDK is loaded on demand to discover tools.
 */
export const LATEST_PROTOCOL_VERSION = '2025-11-25';
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = [
  '2025-11-25',
  '2025-06-18',
  '2025-03-26',
  '2024-11-05',
  '2024-10-07',
];

export type JsonRpcId = string | number;
type Json = Record<string, unknown>;

export interface JsonRpcRequest {
  readonly jsonrpc: '2.0';
  readonly id: JsonRpcId;
  readonly method: string;
  readonly params?: Json;
}

export interface JsonRpcNotification {
  readonly jsonrpc: '2.0';
  readonly method: string;
  readonly params?: Json;
}

export interface JsonRpcResponse {
  readonly jsonrpc: '2.0';
  readonly id: JsonRpcId | null;
  readonly result?: unknown;
  readonly error?: { readonly code: number; readonly message: string; readonly data?: unknown };
}

export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Error codes: JSON-RPC's own, and the gateway's refusals (in the server-defined range). */
export const RPC = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** The policy engine refused the call. */
  refused: -32003,
  /** A human must approve this exact call first: `data.approval` names the request to wait for. */
  approvalRequired: -32004,
  /** A rate limit: `data.retryAfterMs` says when to try again. */
  rateLimited: -32029,
  /** The upstream could not be reached or failed. */
  upstreamError: -32010,
} as const;

/** Narrows parsed JSON to one JSON-RPC message; null when it is not one. */
export function asMessage(value: unknown): JsonRpcMessage | null {
  if (!isObject(value) || value.jsonrpc !== '2.0') return null;
  const id = value.id;
  const validId = typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
  if (value.params !== undefined && !isObject(value.params)) return null;
  if (typeof value.method === 'string') {
    if ('id' in value && !validId) return null;
    return value as unknown as JsonRpcMessage;
  }
  if (('result' in value || 'error' in value) && (validId || id === null))
    return value as unknown as JsonRpcMessage;
  return null;
}

export const isRequest = (m: JsonRpcMessage): m is JsonRpcRequest => 'method' in m && 'id' in m;
export const isNotification = (m: JsonRpcMessage): m is JsonRpcNotification => 'method' in m && !('id' in m);

export function rpcError(
  id: JsonRpcId | null,
  code: number,
  message: string,
  data?: unknown,
): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: { code, message, ...(data === undefined ? {} : { data }) } };
}
