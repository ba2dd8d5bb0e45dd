/** Rows as the domain sees them: camelCase, times in epoch milliseconds. */

export type UserStatus = 'active' | 'deactivated';
export type AgentStatus = 'active' | 'suspended' | 'decommissioned';
export type RiskLevel = 'low' | 'medium' | 'high' | 'critical';
export type AdminRole = 'admin' | 'auditor' | 'owner';

export interface UserRecord {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly status: UserStatus;
  readonly managerId: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface TeamRecord {
  readonly name: string;
  readonly description: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface AgentRecord {
  readonly id: string;
  readonly name: string;
  readonly ownerId: string;
  /** Read-only: the owner's email, joined on read; ignored on insert. */
  readonly ownerEmail: string;
  readonly team: string | null;
  readonly purpose: string;
  readonly environment: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly riskLevel: RiskLevel;
  readonly status: AgentStatus;
  readonly statusReason: string | null;
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface AgentStatusChange {
  readonly agentId: string;
  readonly at: number;
  readonly fromStatus: AgentStatus | null;
  readonly toStatus: AgentStatus;
  readonly reason: string;
  readonly actor: string;
}

export interface AdminTokenRecord {
  readonly id: string;
  readonly name: string;
  readonly tokenHash: string;
  readonly role: AdminRole;
  readonly userId: string | null;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

export interface AuditEventInput {
  readonly id: string;
  readonly at: number;
  readonly requestId: string | null;
  readonly actorType: string;
  readonly actorId: string;
  readonly action: string;
  readonly targetType: string | null;
  readonly targetId: string | null;
  readonly outcome: 'success' | 'failure' | 'denied';
  readonly reason: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface AuditEventRecord extends AuditEventInput {
  readonly seq: number;
}

/** A page of results; `nextCursor` is null on the last page. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}
