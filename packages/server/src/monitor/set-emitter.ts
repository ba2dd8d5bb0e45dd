import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { type Clock, newId, randomToken } from '../core/index.js';
import { type MasterKey, seal, sealedWith, unseal } from '../secrets/index.js';
import type { AuditEventRecord, DeliveryRecord, Store } from '../storage/index.js';

/** CAEP 1.0 event types (OpenID Continuous Access Evaluation Profile). */
export const CAEP_SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const CAEP_CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';

/** The audit actions that become Security Event Tokens. */
export const SET_TRIGGERS: readonly string[] = [
  'agent.suspend',
  'agent.decommission',
  'agent.kill',
  'agent_key.add',
  'agent_key.revoke',
];

const context = (kid: string) => `set-key:${kid}`;

/** One security event about one agent: its CAEP type and event body. */
export interface SecurityEvent {
  readonly agentId: string;
  readonly type: string;
  readonly body: Readonly<Record<string, unknown>>;
  /** The audit event it comes from (`txn` claim). */
  readonly txn: string;
}

/** Who started it, in CAEP's terms: an admin, a policy (an automatic response), or the system. */
function initiatingEntity(e: AuditEventRecord): string {
  if (e.actorType === 'admin_token') return 'admin';
  if (e.actorType === 'system' && e.actorId === 'custos-monitor') return 'policy';
  return 'system';
}

/**
 * The CAEP events an audit event stands for (pure): a suspension or
 * decommissioning revokes every session of the agent (`session-revoked`); a key
 * revoked, added, or revoked by the kill switch is a `credential-change`.
 */
export function securityEventsOf(e: AuditEventRecord): SecurityEvent[] {
  if (e.targetType !== 'agent' || e.targetId === null || e.outcome !== 'success') return [];
  const agentId = e.targetId;
  const base = {
    event_timestamp: Math.floor(e.at / 1000),
    initiating_entity: initiatingEntity(e),
    ...(e.reason ? { reason_admin: { en: e.reason } } : {}),
  };
  const credential = (kid: unknown, change: 'create' | 'revoke'): SecurityEvent => ({
    agentId,
    type: CAEP_CREDENTIAL_CHANGE,
    txn: e.id,
    // agent keys are JWKs used for private_key_jwt: a credential type Custos and its receivers agree on
    body: {
      ...base,
      credential_type: 'jwk',
      change_type: change,
      ...(typeof kid === 'string' ? { friendly_name: kid } : {}),
    },
  });
  switch (e.action) {
    case 'agent.suspend':
    case 'agent.decommission':
      return [{ agentId, type: CAEP_SESSION_REVOKED, txn: e.id, body: base }];
    case 'agent.kill': {
      const kids = Array.isArray(e.details.revokedKeys) ? e.details.revokedKeys : [];
      return kids.map((kid) => credential(kid, 'revoke'));
    }
    case 'agent_key.add':
      return [credential(e.details.kid, 'create')];
    case 'agent_key.revoke':
      return [credential(e.details.kid, 'revoke')];
    default:
      return [];
  }
}

/**
 * Signs Security Event Tokens (RFC 8417) with a dedicated ES256 key, created on
 * first use and stored sealed with the master key (re-sealed with the current
 * master key when loaded during a master-key rotation). Receivers verify them
 * with the key published at `GET /api/v1/monitor/jwks`.
 */
export class SetSigner {
  private constructor(
    readonly kid: string,
    private readonly key: KeyObject,
    readonly publicJwk: Readonly<Record<string, unknown>>,
  ) {}

  static async load(deps: { store: Store; clock: Clock; master: MasterKey }): Promise<SetSigner> {
    let record = (await deps.store.monitor.setKeys.list())[0];
    if (!record) {
      const now = deps.clock.now();
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const kid = `set-${new Date(now).toISOString().slice(0, 10)}-${randomBytes(6).toString('base64url')}`;
      const jwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
      // concurrent nodes may race: the first key stored wins and everyone loads it
      await deps.store.monitor.setKeys.insert({
        kid,
        alg: 'ES256',
        publicJwk: { ...jwk, kid, alg: 'ES256', use: 'sig' },
        privateKey: seal(deps.master, privateKey.export({ format: 'der', type: 'pkcs8' }), context(kid)),
        createdAt: now,
      });
      record = (await deps.store.monitor.setKeys.list())[0];
      if (!record) throw new Error('INVARIANT: the SET key vanished after creation');
    }
    const der = unseal(deps.master, record.privateKey, context(record.kid));
    if (sealedWith(record.privateKey) !== deps.master.id) {
      // sealed with a previous master key (a rotation in progress): re-seal it with the current one
      await deps.store.monitor.setKeys.reseal(record.kid, seal(deps.master, der, context(record.kid)));
    }
    const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    return new SetSigner(record.kid, key, record.publicJwk);
  }

  /** The JWKS receivers verify with (public members only). */
  jwks(): { keys: Record<string, unknown>[] } {
    const { kty, crv, x, y, kid, alg, use } = this.publicJwk;
    return { keys: [{ kty, crv, x, y, kid, alg, use }] };
  }

  /**
   * A SET for one receiver: `typ: secevent+jwt`, `iss`, `iat`, `jti`, `aud`
   * (the receiver), `txn` (the audit event), the agent as an opaque `sub_id`
   * (SSF), and one event.
   */
  sign(issuer: string, audience: string, event: SecurityEvent, nowMs: number): Promise<string> {
    return new SignJWT({
      sub_id: { format: 'opaque', id: event.agentId },
      txn: event.txn,
      events: { [event.type]: event.body },
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'secevent+jwt', kid: this.kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(Math.floor(nowMs / 1000))
      .setJti(randomToken(16))
      .sign(this.key);
  }
}

/** The outbox row of a SET push (RFC 8935) to one receiver. */
export function setDelivery(receiver: string, jwt: string, now: number): DeliveryRecord {
  return {
    id: newId('dlv', now),
    channel: 'set',
    target: receiver,
    contentType: 'application/secevent+jwt',
    body: jwt,
    findingId: null,
    attempts: 0,
    nextAt: now,
    deliveredAt: null,
    lastError: null,
    createdAt: now,
  };
}
