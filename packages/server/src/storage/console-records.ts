/** Rows of the console's tables (times in epoch ms); see `migrations/<dialect>/0009_console.sql`. */

/** The role a password account signs in with (never `resource_server`). */
export type ConsoleRole = 'admin' | 'auditor' | 'owner';

/** A user's console password: an argon2id PHC string, never the password. */
export interface UserPasswordRecord {
  readonly userId: string;
  readonly passwordHash: string;
  readonly consoleRole: ConsoleRole;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A signed-in browser, keyed by the SHA-256 of its session id (the cookie value). */
export interface ConsoleSessionRecord {
  readonly idHash: string;
  readonly method: 'token' | 'password';
  /** The admin token the session was opened with (method `token`). */
  readonly adminTokenId: string | null;
  /** The user who signed in with a password (method `password`). */
  readonly userId: string | null;
  readonly address: string;
  readonly userAgent: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  /** Absolute end of the session. */
  readonly expiresAt: number;
}

/** Failed sign-ins counted against one key (`account:<name>` or `address:<ip>`). */
export interface LoginThrottleRecord {
  readonly key: string;
  readonly failures: number;
  readonly windowStart: number;
  readonly lockedUntil: number | null;
}

/** Agents counted by status, environment and risk level (one row per combination). */
export interface AgentCountRow {
  readonly status: string;
  readonly environment: string;
  readonly riskLevel: string;
  readonly count: number;
}

/** Audit events of one action and outcome in one time bucket. */
export interface ActivityCountRow {
  readonly bucket: number;
  readonly action: string;
  readonly outcome: string;
  readonly count: number;
}

/** An active agent with the time of its latest own activity (tokens, calls, decisions about it). */
export interface AgentActivityRow {
  readonly id: string;
  readonly name: string;
  readonly ownerEmail: string;
  readonly environment: string;
  readonly createdAt: number;
  /** Latest event it did or a decision about it; null when there is none. */
  readonly lastActivityAt: number | null;
}
