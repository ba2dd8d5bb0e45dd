import type { Static } from '@sinclair/typebox';
import type { PolicyDeps } from '../policy/index.js';
import type { GrantRecord, PolicyVersionRecord } from '../storage/index.js';
import type { AppDeps } from './deps.js';
import type * as P from './policy-schemas.js';
import { iso } from './views.js';

/** The policy operations' dependencies, from the app's. */
export const policyDeps = (deps: AppDeps): PolicyDeps => ({
  store: deps.store,
  clock: deps.clock,
  engine: deps.policy,
});

export const versionView = (v: PolicyVersionRecord): Static<typeof P.PolicyVersion> => ({
  version: v.version,
  at: iso(v.at),
  actor: { type: v.actorType, id: v.actorId },
  kind: v.kind,
  mode: v.mode,
  reason: v.reason,
  summary: { ...v.summary },
});

export const grantView = (g: GrantRecord, now: number): Static<typeof P.Grant> => ({
  id: g.id,
  principal: { type: g.principalType, id: g.principalId },
  action: g.action,
  resource: { type: g.resourceType, id: g.resourceId },
  scope: g.resourceScope,
  condition: g.condition,
  expiresAt: g.expiresAt === null ? null : iso(g.expiresAt),
  status:
    g.revokedAt !== null ? 'revoked' : g.expiresAt !== null && g.expiresAt <= now ? 'expired' : 'active',
  createdAt: iso(g.createdAt),
  createdBy: g.createdBy,
  reason: g.reason,
  version: g.version,
  revokedAt: g.revokedAt === null ? null : iso(g.revokedAt),
  revokedBy: g.revokedBy,
  revokeReason: g.revokeReason,
});
