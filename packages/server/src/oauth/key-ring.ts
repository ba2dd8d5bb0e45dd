import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { type Actor, recordAuditEvent, SYSTEM_ACTOR } from '../audit/index.js';
import type { Clock } from '../core/index.js';
import { type MasterKey, seal, unseal } from '../secrets/index.js';
import type { SigningKeyRecord, Store } from '../storage/index.js';

export type SigningAlg = 'ES256' | 'EdDSA';

export interface KeyRingSettings {
  readonly alg: SigningAlg;
  /** Retired keys stay published this long after retirement: the longest token lifetime plus leeway. */
  readonly retiredPublishMs: number;
  /** Rotate automatically once the active key is this old; 0 disables automatic rotation. */
  readonly rotationPeriodMs: number;
  /** How often a node re-reads the keys other nodes may have rotated. */
  readonly refreshMs: number;
}

export interface ActiveKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly privateKey: KeyObject;
}

const context = (kid: string) => `signing-key:${kid}`;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

function generate(
  alg: SigningAlg,
  master: MasterKey,
  now: number,
  state: 'next' | 'active',
): SigningKeyRecord {
  const { privateKey, publicKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const kid = `${alg.toLowerCase()}-${new Date(now).toISOString().slice(0, 10)}-${randomBytes(6).toString('base64url')}`;
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    kid,
    alg,
    publicJwk: { ...jwk, kid, alg, use: 'sig' },
    privateKey: seal(master, pkcs8, context(kid)),
    state,
    createdAt: now,
    activatedAt: state === 'active' ? now : null,
    retiredAt: null,
    publishUntil: null,
  };
}

/**
 * The authorization server's signing keys: one `active` key signs, a `next` key
 * is published ahead of its activation (so verifiers already know it), and
 * `retired` keys stay published until every token they signed has expired.
 * Private keys live sealed in the store and decrypted only in memory.
 *
 * Several nodes share the keys through the store: each re-reads them every
 * `refreshMs`, and rotation is a compare-and-set, so concurrent rotations
 * cannot both win.
 */
export class KeyRing {
  private records: readonly SigningKeyRecord[] = [];
  private active: ActiveKey | null = null;
  private loadedAt = 0;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly deps: { store: Store; clock: Clock; master: MasterKey },
    private readonly settings: KeyRingSettings,
  ) {}

  /** Creates the first active and next keys on an empty store; loads the keys. */
  async initialize(): Promise<void> {
    const existing = await this.deps.store.signingKeys.list();
    if (!existing.some((k) => k.state === 'active')) {
      const now = this.deps.clock.now();
      await this.deps.store.transaction(async (tx) => {
        const active = generate(this.settings.alg, this.deps.master, now, 'active');
        const next = generate(this.settings.alg, this.deps.master, now, 'next');
        await tx.signingKeys.insert(active);
        await tx.signingKeys.insert(next);
        await recordAuditEvent(tx, this.deps.clock, SYSTEM_ACTOR, {
          action: 'signing_key.create',
          target: { type: 'signing_key', id: active.kid },
          reason: 'first start: no signing key yet',
          details: { active: active.kid, next: next.kid, alg: this.settings.alg },
        });
      });
    }
    await this.reload();
  }

  private async reload(): Promise<void> {
    const records = await this.deps.store.signingKeys.list();
    const active = records.find((k) => k.state === 'active');
    if (!active) throw new Error('INVARIANT: no active signing key in the store');
    if (this.active?.kid !== active.kid) {
      const der = unseal(this.deps.master, active.privateKey, context(active.kid));
      this.active = {
        kid: active.kid,
        alg: active.alg,
        privateKey: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
      };
    }
    this.records = records;
    this.loadedAt = this.deps.clock.now();
  }

  private async fresh(): Promise<void> {
    if (this.deps.clock.now() - this.loadedAt < this.settings.refreshMs) return;
    this.loading ??= this.reload().finally(() => {
      this.loading = null;
    });
    await this.loading;
  }

  /** The key to sign with now. Re-reads the store at most every `refreshMs`. */
  async activeKey(): Promise<ActiveKey> {
    await this.fresh();
    if (!this.active) throw new Error('INVARIANT: key ring used before initialize()');
    return this.active;
  }

  /** The public JWKS: active, next, and retired keys still within their publication window. */
  async jwks(): Promise<{ keys: Record<string, unknown>[] }> {
    await this.fresh();
    const now = this.deps.clock.now();
    const keys = this.records
      .filter((k) => k.state !== 'retired' || (k.publishUntil ?? 0) > now)
      .map((k) =>
        Object.fromEntries(Object.entries(k.publicJwk).filter(([m]) => !PRIVATE_MEMBERS.includes(m))),
      );
    return { keys };
  }

  /** Every key on record, for `custos keys list`. */
  async list(): Promise<readonly SigningKeyRecord[]> {
    await this.reload();
    return this.records;
  }

  /**
   * Rotates: `next` becomes `active`, the old active key retires (published for
   * `retiredPublishMs` more), and a new `next` key is created. Retired keys past
   * their window are deleted. Returns false if another node rotated first.
   */
  async rotate(actor: Actor = SYSTEM_ACTOR, reason = 'manual rotation'): Promise<boolean> {
    const now = this.deps.clock.now();
    const rotated = await this.deps.store.transaction(async (tx) => {
      const keys = await tx.signingKeys.list();
      const active = keys.find((k) => k.state === 'active');
      const next = keys.find((k) => k.state === 'next');
      if (!active || !next) throw new Error('INVARIANT: rotation needs an active and a next key');
      const publishUntil = now + this.settings.retiredPublishMs;
      if (!(await tx.signingKeys.setState(active.kid, 'active', 'retired', { retiredAt: now, publishUntil })))
        return false;
      if (!(await tx.signingKeys.setState(next.kid, 'next', 'active', { activatedAt: now }))) return false;
      const fresh = generate(this.settings.alg, this.deps.master, now, 'next');
      await tx.signingKeys.insert(fresh);
      const removed = await tx.signingKeys.deleteExpired(now);
      await recordAuditEvent(tx, this.deps.clock, actor, {
        action: 'signing_key.rotate',
        target: { type: 'signing_key', id: next.kid },
        reason,
        details: {
          retired: active.kid,
          activated: next.kid,
          next: fresh.kid,
          removed,
          publishRetiredUntil: publishUntil,
        },
      });
      return true;
    });
    await this.reload();
    return rotated;
  }

  /** Rotates when the active key is older than the rotation period (called on a timer). */
  async rotateIfDue(): Promise<boolean> {
    if (this.settings.rotationPeriodMs <= 0) return false;
    await this.reload();
    const active = this.records.find((k) => k.state === 'active');
    const since = active?.activatedAt ?? active?.createdAt ?? 0;
    if (this.deps.clock.now() - since < this.settings.rotationPeriodMs) {
      // still prune keys whose publication window has closed
      if (this.records.some((k) => k.state === 'retired' && (k.publishUntil ?? 0) <= this.deps.clock.now())) {
        await this.deps.store.signingKeys.deleteExpired(this.deps.clock.now());
        await this.reload();
      }
      return false;
    }
    return this.rotate(SYSTEM_ACTOR, 'scheduled rotation');
  }
}
