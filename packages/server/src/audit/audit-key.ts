import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Clock } from '../core/index.js';
import { type MasterKey, seal, unseal } from '../secrets/index.js';
import type { Store } from '../storage/index.js';
import { verifierKey } from './signed-note.js';

export interface AuditKey {
  readonly name: string;
  readonly privateKey: KeyObject;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
  /** The C2SP verifier key string to publish. */
  readonly vkey: string;
}

const context = (name: string) => `audit-key:${name}`;

/**
 * Loads the dedicated Ed25519 audit key named `name`, creating it on first use.
 * Concurrent nodes may race to create it; the store keeps the first and every
 * node then loads that one.
 */
export async function loadAuditKey(
  deps: { store: Store; clock: Clock; master: MasterKey },
  name: string,
): Promise<AuditKey> {
  let record = await deps.store.auditLog.getKey(name);
  if (!record) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const raw = Buffer.from((publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
    await deps.store.auditLog.insertKey({
      name,
      publicKey: raw.toString('base64'),
      privateKey: seal(deps.master, privateKey.export({ format: 'der', type: 'pkcs8' }), context(name)),
      createdAt: deps.clock.now(),
    });
    record = await deps.store.auditLog.getKey(name);
    if (!record) throw new Error('INVARIANT: the audit key vanished after creation');
  }
  const publicKey = Buffer.from(record.publicKey, 'base64');
  return {
    name,
    publicKey,
    privateKey: createPrivateKey({
      key: unseal(deps.master, record.privateKey, context(name)),
      format: 'der',
      type: 'pkcs8',
    }),
    vkey: verifierKey(name, publicKey),
  };
}
