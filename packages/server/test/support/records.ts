import { newId } from '../../src/core/index.js';
import type { AgentRecord, UserRecord } from '../../src/storage/index.js';

/** An active user created at `at`, for inserting straight into a store; `extra` overrides any field. */
export function userRecord(email: string, at: number, extra: Partial<UserRecord> = {}): UserRecord {
  return {
    id: newId('usr', at),
    email,
    name: email,
    status: 'active',
    managerId: null,
    createdAt: at,
    updatedAt: at,
    ...extra,
  };
}

/**
 * An active agent of `ownerId` created at `at`, living a day, for inserting
 * straight into a store; `extra` overrides any field.
 */
export function agentRecord(
  ownerId: string,
  at: number,
  extra: Partial<AgentRecord> = {},
): Omit<AgentRecord, 'ownerEmail'> {
  return {
    id: newId('agt', at),
    name: 'bot',
    ownerId,
    team: null,
    purpose: '',
    environment: 'default',
    tags: {},
    riskLevel: 'low',
    status: 'active',
    statusReason: null,
    expiresAt: at + 86_400_000,
    allowedScopes: [],
    allowedAudiences: [],
    requireDpop: false,
    createdAt: at,
    updatedAt: at,
    ...extra,
  };
}
