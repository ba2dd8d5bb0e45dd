/** Wire shapes of the admin API, as the console reads them (see docs/api.md). */

export type Role = 'admin' | 'auditor' | 'owner';
export type AgentStatus = 'active' | 'suspended' | 'decommissioned';
export type RiskLevel = 'low' | 'medium' | 'high' | 'critical';

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export interface User {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly status: 'active' | 'deactivated';
}

export interface Session {
  readonly method: 'token' | 'password' | 'bearer';
  readonly actor: {
    readonly type: string;
    readonly id: string;
    readonly role: string;
    readonly userId: string | null;
  };
  readonly user: User | null;
  readonly expiresAt: string | null;
  readonly csrfToken: string | null;
}

export interface Agent {
  readonly id: string;
  readonly name: string;
  readonly owner: { readonly id: string; readonly email: string };
  readonly team: string | null;
  readonly purpose: string;
  readonly environment: string;
  readonly tags: Record<string, string>;
  readonly riskLevel: RiskLevel;
  readonly status: AgentStatus;
  readonly statusReason: string | null;
  readonly expiresAt: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface StatusChange {
  readonly at: string;
  readonly from: AgentStatus | null;
  readonly to: AgentStatus;
  readonly reason: string;
  readonly actor: string;
}

export interface AgentKey {
  readonly kid: string;
  readonly alg: string;
  readonly thumbprint: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly revokedAt: string | null;
  readonly status: 'active' | 'revoked' | 'expired';
}

export interface FederatedIssuer {
  readonly id: string;
  readonly issuer: string;
  readonly rules: { readonly claims: Record<string, string>; readonly agent: string }[];
}

export interface Grant {
  readonly id: string;
  readonly principal: { readonly type: string; readonly id: string };
  readonly action: string;
  readonly resource: { readonly type: string; readonly id: string };
  readonly scope?: string;
  readonly condition: string | null;
  readonly expiresAt: string | null;
  readonly reason: string;
  readonly status?: string;
  readonly revokedAt?: string | null;
}

export interface AuditEvent {
  readonly seq: number;
  readonly id: string;
  readonly at: string;
  readonly requestId: string | null;
  readonly actor: { readonly type: string; readonly id: string };
  readonly action: string;
  readonly target: { readonly type: string; readonly id: string } | null;
  readonly outcome: string;
  readonly reason: string | null;
  readonly details: Record<string, unknown>;
  readonly prevHash: string | null;
  readonly hash: string | null;
}

export interface Checkpoint {
  readonly size: number;
  readonly hash: string;
  readonly at: string;
  readonly note: string;
}

export interface PolicySet {
  readonly mode: 'enforce' | 'shadow';
  readonly version: number;
  readonly active: boolean;
  readonly policies: { readonly id: string; readonly text: string; readonly effect?: string }[];
}

export interface PolicyVersion {
  readonly version: number;
  readonly at: string;
  readonly actor: { readonly type: string; readonly id: string };
  readonly kind: string;
  readonly mode: 'enforce' | 'shadow' | null;
  readonly reason: string;
}

export interface ValidateResult {
  readonly valid: boolean;
  readonly errors: { pointer: string; detail: string; line?: number; column?: number }[];
  readonly warnings: { policyId: string | null; message: string }[];
}

export interface TestResult {
  readonly version: number;
  readonly results: {
    readonly actual: 'allow' | 'deny';
    readonly policies: string[];
    readonly errors: { policyId: string | null; message: string }[];
  }[];
}

export interface Dashboard {
  readonly agents: {
    readonly total: number;
    readonly byStatus: Record<string, number>;
    readonly byEnvironment: Record<string, number>;
    readonly byRisk: Record<string, number>;
  };
  readonly expiringSoon: Agent[];
  readonly inactive: {
    readonly total: number;
    readonly items: {
      id: string;
      name: string;
      ownerEmail: string;
      environment: string;
      lastActivityAt: string | null;
    }[];
  };
  readonly activity: {
    readonly tokens: { at: string; counts: Record<string, number> }[];
    readonly decisions: { at: string; counts: Record<string, number> }[];
  } | null;
  readonly recentDenials: AuditEvent[] | null;
}

export type FindingStatus = 'open' | 'acknowledged' | 'resolved' | 'false_positive';

export interface Finding {
  readonly id: string;
  readonly detector: string;
  readonly severity: 'low' | 'medium' | 'high' | 'critical';
  readonly status: FindingStatus;
  readonly agent: string;
  readonly title: string;
  readonly explanation: string;
  /** The audit events that raised it (`seq`, `at`, `action`, …). */
  readonly evidence: Readonly<Record<string, unknown>>[];
  readonly occurrences: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly response: string;
  readonly statusReason: string | null;
  readonly statusBy: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** An approval request: the exact call an agent asked to make, and who decides it. */
export interface Approval {
  readonly id: string;
  readonly status: 'pending' | 'approved' | 'denied' | 'used' | 'expired';
  readonly agent: string;
  readonly onBehalfOf: string | null;
  /** The user who decides: the person the agent acts for, or the agent's owner. */
  readonly approver: string;
  readonly approverKind: 'person' | 'owner';
  readonly action: string;
  readonly resource: { readonly type: string; readonly id: string };
  /** What the approver is shown of the call (upstream, tool or route, arguments, body). */
  readonly request: Record<string, unknown>;
  readonly policies: readonly string[];
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly decidedAt: string | null;
  readonly decidedBy: string | null;
  readonly reason: string | null;
  readonly usedAt: string | null;
}

/** A person's consent that an agent acts for them (delegated tokens), for scopes and tools, until a time. */
export interface Consent {
  readonly id: string;
  readonly user: string;
  readonly agent: string;
  readonly scopes: readonly string[];
  /** The tools it limits the agent to (`server/tool`, `server/*`); null: not limited. */
  readonly tools: readonly string[] | null;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly revokedAt: string | null;
}

/** An MCP server behind the gateway, with its tools and their argument types. */
export interface McpServer {
  readonly name: string;
  readonly description: string;
  /** The resource URI agents get tokens for (`aud`). */
  readonly resource: string;
  readonly transport:
    | { readonly type: 'http'; readonly url: string }
    | {
        readonly type: 'stdio';
        readonly command: string;
        readonly args?: readonly string[];
        /** Environment variables from vault secrets (variable → secret name). */
        readonly secretEnv?: Readonly<Record<string, string>>;
      };
  /** How the gateway authenticates upstream: secret names, never values. */
  readonly auth: Record<string, unknown>;
  readonly limits: Record<string, unknown>;
  readonly tools: readonly {
    readonly name: string;
    readonly entity: string;
    readonly description: string;
    readonly arguments: Record<string, string>;
  }[];
  readonly catalogUpdatedAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** An HTTP API behind the gateway and its routes. */
export interface HttpApi {
  readonly name: string;
  readonly description: string;
  readonly resource: string;
  readonly baseUrl: string;
  readonly routes: readonly { readonly method: string; readonly path: string; readonly entity: string }[];
  readonly auth: Record<string, unknown>;
  readonly limits: Record<string, unknown>;
  readonly createdAt: string;
  readonly updatedAt: string;
}
