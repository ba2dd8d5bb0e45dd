import type { SqlExecutor, SqlValue } from './sql-driver.js';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'used';

/** A request for a person's approval of one exact action the gateway refused without it. */
export interface ApprovalRecord {
  readonly id: string;
  readonly agentId: string;
  /** The person a delegated call acts for (null for an agent acting on its own). */
  readonly personId: string | null;
  /** Who may decide: the person, or the agent's owner. */
  readonly approverId: string;
  readonly approverKind: 'person' | 'owner';
  readonly action: string;
  readonly resource: { readonly type: string; readonly id: string };
  /** What the approver is shown: upstream, tool or route, arguments. */
  readonly request: Readonly<Record<string, unknown>>;
  /** SHA-256 (base64url) of the canonical action; a retry must match it exactly. */
  readonly binding: string;
  /** The forbids that asked for approval. */
  readonly policies: readonly string[];
  readonly status: ApprovalStatus;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly decidedAt: number | null;
  readonly decidedBy: string | null;
  readonly reason: string | null;
  readonly usedAt: number | null;
}

export interface ApprovalFilter {
  readonly status?: ApprovalStatus | undefined;
  readonly approverId?: string | undefined;
  readonly agentId?: string | undefined;
  readonly limit: number;
}

export interface ApprovalRepositories {
  readonly approvals: {
    insert(approval: ApprovalRecord): Promise<void>;
    get(id: string): Promise<ApprovalRecord | null>;
    /** Newest first. */
    list(filter: ApprovalFilter): Promise<readonly ApprovalRecord[]>;
    /** Compare-and-set from `pending` (unexpired at `at`) to `approved` or `denied`; null when not pending. */
    decide(
      id: string,
      status: 'approved' | 'denied',
      by: string,
      reason: string | null,
      at: number,
    ): Promise<ApprovalRecord | null>;
    /** Compare-and-set from `approved` (unexpired at `at`) to `used`: true exactly once. */
    use(id: string, at: number): Promise<boolean>;
  };
}

type ApprovalRow = {
  id: string;
  agent_id: string;
  person_id: string | null;
  approver_id: string;
  approver_kind: 'person' | 'owner';
  action: string;
  resource_type: string;
  resource_id: string;
  request: string;
  binding: string;
  policies: string;
  status: ApprovalStatus;
  created_at: number;
  expires_at: number;
  decided_at: number | null;
  decided_by: string | null;
  reason: string | null;
  used_at: number | null;
};

const num = (v: number | null) => (v === null ? null : Number(v));
const toApproval = (r: ApprovalRow): ApprovalRecord => ({
  id: r.id,
  agentId: r.agent_id,
  personId: r.person_id,
  approverId: r.approver_id,
  approverKind: r.approver_kind,
  action: r.action,
  resource: { type: r.resource_type, id: r.resource_id },
  request: JSON.parse(r.request) as Record<string, unknown>,
  binding: r.binding,
  policies: JSON.parse(r.policies) as string[],
  status: r.status,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  decidedAt: num(r.decided_at),
  decidedBy: r.decided_by,
  reason: r.reason,
  usedAt: num(r.used_at),
});

/** Approval requests, in the SQL both dialects share. */
export function approvalRepositories(ex: SqlExecutor): ApprovalRepositories {
  return {
    approvals: {
      async insert(a) {
        await ex.write(
          `INSERT INTO approvals (id, agent_id, person_id, approver_id, approver_kind, action, resource_type,
             resource_id, request, binding, policies, status, created_at, expires_at, decided_at, decided_by,
             reason, used_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
          [
            a.id,
            a.agentId,
            a.personId,
            a.approverId,
            a.approverKind,
            a.action,
            a.resource.type,
            a.resource.id,
            JSON.stringify(a.request),
            a.binding,
            JSON.stringify(a.policies),
            a.status,
            a.createdAt,
            a.expiresAt,
            a.decidedAt,
            a.decidedBy,
            a.reason,
            a.usedAt,
          ],
        );
      },
      async get(id) {
        const rows = await ex.all<ApprovalRow>('SELECT * FROM approvals WHERE id = $1', [id]);
        return rows[0] ? toApproval(rows[0]) : null;
      },
      async list(filter) {
        const params: SqlValue[] = [];
        const where: string[] = [];
        if (filter.status) where.push(`status = $${params.push(filter.status)}`);
        if (filter.approverId) where.push(`approver_id = $${params.push(filter.approverId)}`);
        if (filter.agentId) where.push(`agent_id = $${params.push(filter.agentId)}`);
        const rows = await ex.all<ApprovalRow>(
          `SELECT * FROM approvals${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
             ORDER BY created_at DESC, id DESC LIMIT $${params.push(filter.limit)}`,
          params,
        );
        return rows.map(toApproval);
      },
      async decide(id, status, by, reason, at) {
        const { rows } = await ex.write<ApprovalRow>(
          `UPDATE approvals SET status = $1, decided_by = $2, reason = $3, decided_at = $4
             WHERE id = $5 AND status = 'pending' AND expires_at > $4 RETURNING *`,
          [status, by, reason, at, id],
        );
        return rows[0] ? toApproval(rows[0]) : null;
      },
      async use(id, at) {
        const result = await ex.write(
          `UPDATE approvals SET status = 'used', used_at = $1
             WHERE id = $2 AND status = 'approved' AND expires_at > $1`,
          [at, id],
        );
        return result.changes === 1;
      },
    },
  };
}
