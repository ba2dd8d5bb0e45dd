import { type Actor, recordAuditEvent } from '../audit/index.js';
import { CustosError, newId, notFound } from '../core/index.js';
import type { IdentityDeps } from '../identity/index.js';
import { requireAdmin, validatePublicJwk } from '../identity/index.js';
import { type FederatedIssuerRecord, type FederationRule, UniqueViolation } from '../storage/index.js';

export interface AddFederatedIssuerInput {
  readonly issuer: string;
  readonly jwks?: { readonly keys: readonly Record<string, unknown>[] } | undefined;
  readonly jwksUri?: string | undefined;
  readonly audiences: readonly string[];
  readonly rules: readonly FederationRule[];
}

const field = (pointer: string, detail: string) =>
  new CustosError('validation_failed', detail, { fields: [{ pointer, detail }] });

/**
 * Trusts an external issuer of workload tokens (a Kubernetes cluster, a CI
 * system, a SPIFFE trust domain). Its tokens authenticate the agents its rules
 * map them to, with no secret on the agent's side.
 */
export async function addFederatedIssuer(
  deps: IdentityDeps,
  actor: Actor,
  input: AddFederatedIssuerInput,
): Promise<FederatedIssuerRecord> {
  requireAdmin(actor, 'trust workload issuers');
  if ((input.jwks === undefined) === (input.jwksUri === undefined)) {
    throw field('/jwks', 'give exactly one of `jwks` (inline) or `jwksUri`');
  }
  for (const [i, key] of (input.jwks?.keys ?? []).entries()) {
    try {
      await validatePublicJwk(key);
    } catch (error) {
      throw field(`/jwks/keys/${i}`, error instanceof Error ? error.message : 'invalid key');
    }
  }
  return deps.store.transaction(async (tx) => {
    for (const [i, rule] of input.rules.entries()) {
      if (!(await tx.agents.get(rule.agent)))
        throw field(`/rules/${i}/agent`, `unknown agent \`${rule.agent}\``);
    }
    const now = deps.clock.now();
    const record: FederatedIssuerRecord = {
      id: newId('fed', now),
      issuer: input.issuer,
      jwks: input.jwks ?? null,
      jwksUri: input.jwksUri ?? null,
      audiences: input.audiences,
      rules: input.rules,
      createdAt: now,
    };
    try {
      await tx.federatedIssuers.insert(record);
    } catch (error) {
      if (error instanceof UniqueViolation) {
        throw new CustosError('conflict', `issuer \`${input.issuer}\` is already trusted`, { cause: error });
      }
      throw error;
    }
    await tx.notify({ topic: 'federation', id: record.id });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'federation.add',
      target: { type: 'federated_issuer', id: record.id },
      details: {
        issuer: record.issuer,
        jwksUri: record.jwksUri,
        audiences: record.audiences,
        rules: record.rules,
      },
    });
    return record;
  });
}

export async function listFederatedIssuers(
  deps: IdentityDeps,
  actor: Actor,
): Promise<readonly FederatedIssuerRecord[]> {
  if (actor.role === 'owner') requireAdmin(actor, 'list workload issuers');
  return deps.store.federatedIssuers.list();
}

/** Stops trusting an issuer; tokens obtained through it become inactive at once. */
export async function removeFederatedIssuer(deps: IdentityDeps, actor: Actor, id: string): Promise<void> {
  requireAdmin(actor, 'remove workload issuers');
  await deps.store.transaction(async (tx) => {
    if (!(await tx.federatedIssuers.delete(id))) throw notFound('federated issuer', id);
    await tx.notify({ topic: 'federation', id });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'federation.remove',
      target: { type: 'federated_issuer', id },
    });
  });
}
