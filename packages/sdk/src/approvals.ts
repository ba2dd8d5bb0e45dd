import { CustosSdkError } from './errors.js';

/** Where an MCP `tools/call` carries an approval reference: `params._meta["custos/approval"]`. */
export const APPROVAL_META_KEY = 'custos/approval';
/** The header an HTTP API call through the gateway carries an approval reference in. */
export const APPROVAL_HEADER = 'Custos-Approval';
/** The JSON-RPC error code of a gateway answer that needs a human's approval first. */
export const APPROVAL_REQUIRED_CODE = -32004;

/** An approval request as Custos shows it. */
export interface ApprovalRequest {
  readonly id: string;
  readonly status: 'pending' | 'approved' | 'denied' | 'used' | 'expired';
  readonly agent: string;
  readonly onBehalfOf: string | null;
  /** Who decides: the person a delegated call acts for, or the agent's owner. */
  readonly approver: string;
  readonly approverKind: 'person' | 'owner';
  readonly action: string;
  readonly resource: { readonly type: string; readonly id: string };
  /** The exact call: upstream, tool or route, arguments. */
  readonly request: Readonly<Record<string, unknown>>;
  readonly expiresAt: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function asApproval(value: unknown): ApprovalRequest | null {
  if (!isObject(value) || typeof value.id !== 'string' || !/^apr_[0-9a-z]{26}$/.test(value.id)) return null;
  return value as unknown as ApprovalRequest;
}

/**
 * The approval request a gateway refusal names, or null when the refusal is
 * not one that an approval can lift. Understands an MCP error (the SDK's
 * `McpError`, or any object with `code` -32004 and `data.approval`) and the
 * problem+json body of an HTTP API call (`approval`).
 */
export function pendingApprovalOf(refusal: unknown): ApprovalRequest | null {
  if (!isObject(refusal) && !(refusal instanceof Error)) return null;
  const r = refusal as unknown as Record<string, unknown>;
  if (r.code === APPROVAL_REQUIRED_CODE && isObject(r.data)) return asApproval(r.data.approval);
  if (isObject(r.error) && r.error.code === APPROVAL_REQUIRED_CODE && isObject(r.error.data))
    return asApproval(r.error.data.approval);
  return asApproval(r.approval);
}

/** Options of `AgentClient.waitForApproval`. */
export interface WaitForApprovalOptions {
  /** Poll interval in ms (default 1000, at least 100). */
  readonly intervalMs?: number;
  /** Give up after this many ms (default 300000). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Polls an approval until it is decided. Resolves when approved; rejects with
 * `approval_denied`, `approval_expired` (also when already used) or
 * `approval_timeout`.
 */
export async function pollApproval(
  read: () => Promise<Response>,
  options: WaitForApprovalOptions,
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>,
  clock: () => number,
): Promise<ApprovalRequest> {
  const interval = Math.max(100, options.intervalMs ?? 1000);
  const deadline = clock() + (options.timeoutMs ?? 300_000);
  for (;;) {
    options.signal?.throwIfAborted();
    let response: Response;
    try {
      response = await read();
    } catch (cause) {
      throw new CustosSdkError('approval_failed', 'cannot reach custos to read the approval', {
        status: 502,
        cause,
      });
    }
    const body: unknown = await response.json().catch(() => undefined);
    const approval = asApproval(body);
    if (response.status !== 200 || !approval) {
      throw new CustosSdkError(
        'approval_failed',
        `reading the approval failed with status ${response.status}`,
        {
          status: response.status === 200 ? 502 : response.status,
        },
      );
    }
    if (approval.status === 'approved') return approval;
    if (approval.status === 'denied')
      throw new CustosSdkError('approval_denied', 'the approval was denied', { status: 403 });
    if (approval.status === 'expired' || approval.status === 'used')
      throw new CustosSdkError('approval_expired', `the approval is ${approval.status}`, { status: 410 });
    if (clock() + interval > deadline)
      throw new CustosSdkError('approval_timeout', 'no decision before the timeout', { status: 408 });
    await sleep(interval, options.signal);
  }
}
