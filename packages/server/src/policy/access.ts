import type { Actor } from '../audit/index.js';
import { CustosError } from '../core/index.js';

/** Policy changes are for `admin` tokens only. */
export function requirePolicyAdmin(actor: Actor, what: string): void {
  if (actor.role !== 'admin') throw new CustosError('forbidden', `only admin tokens can ${what}`);
}

/** Reading policies, grants, entities and the schema: `admin` and `auditor` tokens. */
export function requirePolicyReader(actor: Actor, what: string): void {
  if (actor.role !== 'admin' && actor.role !== 'auditor') {
    throw new CustosError('forbidden', `only admin and auditor tokens can ${what}`);
  }
}
