import { CustosError } from '../core/index.js';
import type { Repositories } from '../storage/index.js';
import { buildSchema, type EffectiveSchema } from './schema.js';

let memo: EffectiveSchema | null = null;

/** The effective schema as stored (through `repos`, so inside a transaction it is that transaction's view). */
export async function storedSchema(repos: Repositories): Promise<EffectiveSchema> {
  const row = await repos.policy.schemas.current();
  const version = row?.version ?? 0;
  const text = row?.text ?? '';
  if (memo && memo.version === version && memo.adminText === text) return memo;
  const built = buildSchema(text, version);
  if (!built.ok) {
    throw new CustosError('internal', `the stored schema no longer builds: ${built.errors.join('; ')}`);
  }
  memo = built.schema;
  return built.schema;
}
