import { randomBytes } from 'node:crypto';
import { type Actor, recordAuditEvent } from '../audit/index.js';
import { type Clock, CustosError, notFound } from '../core/index.js';
import { requireAdmin } from '../identity/index.js';
import type { SecretRecord, Store } from '../storage/index.js';
import { type MasterKey, seal, sealedWith, unseal } from './seal.js';

export interface VaultDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly master: MasterKey;
}

const keyContext = (name: string, version: number) => `secret-key:${name}:${version}`;
const valueContext = (name: string, version: number) => `secret:${name}:${version}`;

/** Metadata of a secret: never its value. */
export type SecretInfo = Omit<SecretRecord, 'dataKey' | 'value'>;

const info = (r: SecretRecord): SecretInfo => ({
  name: r.name,
  description: r.description,
  version: r.version,
  createdBy: r.createdBy,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

/**
 * Stores a secret value with envelope encryption: a fresh 256-bit data key
 * encrypts the value (AES-256-GCM, bound to the name and version), and only the
 * data key sealed with the master key is kept. Setting an existing name is a
 * rotation: new data key, version + 1. `mode` says which of the two is meant,
 * so a typo cannot silently create a second secret or overwrite one.
 */
export async function setSecret(
  deps: VaultDeps,
  actor: Actor,
  input: { name: string; value: string; description?: string | undefined },
  mode: 'create' | 'rotate' | 'upsert' = 'upsert',
): Promise<SecretInfo> {
  requireAdmin(actor, 'write secrets');
  if (input.value.length === 0) {
    throw new CustosError('validation_failed', 'a secret value cannot be empty', {
      fields: [{ pointer: '/value', detail: 'must not be empty' }],
    });
  }
  return deps.store.transaction(async (tx) => {
    const existing = await tx.secrets.get(input.name, { lock: true });
    if (existing && mode === 'create')
      throw new CustosError('conflict', `secret \`${input.name}\` already exists`);
    if (!existing && mode === 'rotate') throw notFound('secret', input.name);
    const now = deps.clock.now();
    const version = (existing?.version ?? 0) + 1;
    const dataKey = randomBytes(32);
    const record: SecretRecord = {
      name: input.name,
      description: input.description ?? existing?.description ?? '',
      dataKey: seal(deps.master, dataKey, keyContext(input.name, version)),
      value: seal({ id: `dk_v${version}`, key: dataKey }, input.value, valueContext(input.name, version)),
      version,
      createdBy: existing?.createdBy ?? actor.id,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    dataKey.fill(0);
    await tx.secrets.put(record);
    // caches of the decrypted value (the gateway's) drop it in every process
    await tx.notify({ topic: 'secret', id: input.name });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: existing ? 'secret.rotate' : 'secret.create',
      target: { type: 'secret', id: input.name },
      details: { version },
    });
    return info(record);
  });
}

export async function listSecrets(deps: VaultDeps, actor: Actor): Promise<readonly SecretInfo[]> {
  if (actor.role === 'owner') requireAdmin(actor, 'list secrets');
  return (await deps.store.secrets.list()).map(info);
}

export async function getSecretInfo(deps: VaultDeps, actor: Actor, name: string): Promise<SecretInfo> {
  if (actor.role === 'owner') requireAdmin(actor, 'read secret metadata');
  const record = await deps.store.secrets.get(name);
  if (!record) throw notFound('secret', name);
  return info(record);
}

export async function deleteSecret(deps: VaultDeps, actor: Actor, name: string): Promise<void> {
  requireAdmin(actor, 'delete secrets');
  await deps.store.transaction(async (tx) => {
    if (!(await tx.secrets.delete(name))) throw notFound('secret', name);
    await tx.notify({ topic: 'secret', id: name });
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'secret.delete',
      target: { type: 'secret', id: name },
    });
  });
}

/**
 * The plaintext of a secret, for the gateway to inject upstream. Never exposed
 * through the API. Fails closed: any tampering with the stored data key or
 * value (ciphertext, IV or tag) throws and returns nothing.
 */
export async function revealSecret(deps: VaultDeps, name: string): Promise<string> {
  const record = await deps.store.secrets.get(name);
  if (!record) throw notFound('secret', name);
  const dataKey = unseal(deps.master, record.dataKey, keyContext(name, record.version));
  try {
    return unseal(
      { id: `dk_v${record.version}`, key: dataKey },
      record.value,
      valueContext(name, record.version),
    ).toString('utf8');
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Master-key rotation without downtime: start every node with the new key as
 * `CUSTOS_MASTER_KEY` and the old one in `CUSTOS_MASTER_KEY_PREVIOUS` (both
 * unseal), then re-wrap: every secret's data key, every token-signing key and
 * the audit key are re-sealed with the current key. Values are not re-encrypted
 * (their data keys do not change). Returns how many items were re-wrapped.
 */
export async function rewrapAll(
  deps: VaultDeps,
  actor: Actor,
): Promise<{ secrets: number; signingKeys: number; auditKeys: number }> {
  requireAdmin(actor, 're-wrap sealed keys');
  return deps.store.transaction(async (tx) => {
    const counts = { secrets: 0, signingKeys: 0, auditKeys: 0 };
    for (const secret of await tx.secrets.list()) {
      if (sealedWith(secret.dataKey) === deps.master.id) continue;
      const context = keyContext(secret.name, secret.version);
      await tx.secrets.put({
        ...secret,
        dataKey: seal(deps.master, unseal(deps.master, secret.dataKey, context), context),
      });
      counts.secrets++;
    }
    for (const key of await tx.signingKeys.list()) {
      if (sealedWith(key.privateKey) === deps.master.id) continue;
      const context = `signing-key:${key.kid}`;
      await tx.signingKeys.reseal(
        key.kid,
        seal(deps.master, unseal(deps.master, key.privateKey, context), context),
      );
      counts.signingKeys++;
    }
    for (const name of await tx.auditLog.keyNames()) {
      const key = await tx.auditLog.getKey(name);
      if (!key || sealedWith(key.privateKey) === deps.master.id) continue;
      const context = `audit-key:${name}`;
      await tx.auditLog.resealKey(
        name,
        seal(deps.master, unseal(deps.master, key.privateKey, context), context),
      );
      counts.auditKeys++;
    }
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'master_key.rewrap',
      target: null,
      details: { masterKeyId: deps.master.id, ...counts },
    });
    return counts;
  });
}
