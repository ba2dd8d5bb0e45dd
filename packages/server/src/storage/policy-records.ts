/** Rows of the policy engine's tables, as the domain sees them (times in epoch ms). */

export type PolicyMode = 'enforce' | 'shadow';
export type PolicyEffect = 'permit' | 'forbid';

/** One policy of the enforced or the shadow set. */
export interface PolicyRecord {
  readonly mode: PolicyMode;
  readonly id: string;
  /** Cedar source of exactly one static policy. */
  readonly text: string;
  readonly effect: PolicyEffect;
  /** Index keys of its principal and resource constraints (see `policy/policy-scope.ts`). */
  readonly principalScope: string;
  readonly resourceScope: string;
  /** The version that last changed it. */
  readonly version: number;
}

/** One revision of one policy; `text: null` records its removal. */
export interface PolicyRevisionRecord {
  readonly mode: PolicyMode;
  readonly id: string;
  readonly version: number;
  readonly text: string | null;
}

export type PolicyChangeKind = 'policies' | 'promote' | 'discard' | 'schema' | 'grant.add' | 'grant.revoke';

/** Who changed the policy state, when, why, and what changed. */
export interface PolicyVersionRecord {
  readonly version: number;
  readonly at: number;
  readonly actorType: string;
  readonly actorId: string;
  readonly kind: PolicyChangeKind;
  readonly mode: PolicyMode | null;
  readonly reason: string;
  readonly summary: Readonly<Record<string, unknown>>;
}

/** "principal may action resource [when condition] [until expiresAt]", compiled to a template-linked policy. */
export interface GrantRecord {
  readonly id: string;
  readonly principalType: 'Agent' | 'Team' | 'User';
  readonly principalId: string;
  readonly action: string;
  readonly resourceType: string;
  readonly resourceId: string;
  /** `eq`: that resource; `in`: every resource inside it (e.g. every tool of an MCP server). */
  readonly resourceScope: 'eq' | 'in';
  /** A Cedar boolean expression, or null. */
  readonly condition: string | null;
  /** The grant stops working at this time; null: until revoked. */
  readonly expiresAt: number | null;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly reason: string;
  readonly version: number;
  readonly revokedAt: number | null;
  readonly revokedBy: string | null;
  readonly revokeReason: string | null;
  readonly revokedVersion: number | null;
}

export interface EntityUidRecord {
  readonly type: string;
  readonly id: string;
}

/** An admin-defined entity, in Cedar's JSON entity format (entity references as `{"__entity": …}`). */
export interface PolicyEntityRecord {
  readonly type: string;
  readonly id: string;
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly parents: readonly EntityUidRecord[];
  readonly tags: Readonly<Record<string, unknown>>;
  readonly updatedAt: number;
}
