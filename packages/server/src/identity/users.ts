import { type Actor, diffFields, recordAuditEvent } from '../audit/index.js';
import { CustosError, isId, newId, notFound } from '../core/index.js';
import {
  type Page,
  type Repositories,
  UniqueViolation,
  type UserFilter,
  type UserRecord,
} from '../storage/index.js';
import { requireAdmin } from './access.js';
import type { IdentityDeps } from './deps.js';

/** Tells the policy engine's entity cache that this user's `User` entity changed (see `policy/entity-loader.ts`). */
const userEntityChange = (id: string) => ({
  topic: 'policy' as const,
  id: `entity:User::${JSON.stringify(id)}`,
});

/**
 * Finds a user by id (`usr_…`) or email, as admins refer to people either way.
 * Returns null when there is no such user.
 */
export async function findUser(repos: Repositories, ref: string): Promise<UserRecord | null> {
  return isId('usr', ref) ? repos.users.get(ref) : repos.users.getByEmail(ref);
}

/** Like {@link findUser}, but an unknown reference is a 400 naming the field. */
export async function resolveUser(repos: Repositories, ref: string, field: string): Promise<UserRecord> {
  const user = await findUser(repos, ref);
  if (!user) {
    throw new CustosError('validation_failed', `unknown user \`${ref}\``, {
      fields: [{ pointer: `/${field}`, detail: `unknown user \`${ref}\`` }],
    });
  }
  return user;
}

export interface CreateUserInput {
  readonly email: string;
  readonly name: string;
  /** Id or email of the user's manager. */
  readonly manager?: string | undefined;
}

/** Registers a human. Emails are unique, compared case-insensitively. */
export async function createUser(
  deps: IdentityDeps,
  actor: Actor,
  input: CreateUserInput,
): Promise<UserRecord> {
  requireAdmin(actor, 'create users');
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const manager = input.manager === undefined ? null : await resolveUser(tx, input.manager, 'manager');
    const user: UserRecord = {
      id: newId('usr', now),
      email: input.email.toLowerCase(),
      name: input.name,
      status: 'active',
      managerId: manager?.id ?? null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await tx.users.insert(user);
    } catch (error) {
      if (error instanceof UniqueViolation) {
        throw new CustosError('conflict', `a user with email \`${user.email}\` already exists`, {
          cause: error,
        });
      }
      throw error;
    }
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'user.create',
      target: { type: 'user', id: user.id },
      details: { email: user.email, name: user.name, managerId: user.managerId },
    });
    return user;
  });
}

export async function getUser(deps: IdentityDeps, ref: string): Promise<UserRecord> {
  const user = await findUser(deps.store, ref);
  if (!user) throw notFound('user', ref);
  return user;
}

export function listUsers(deps: IdentityDeps, filter: UserFilter): Promise<Page<UserRecord>> {
  return deps.store.users.list(filter);
}

export interface UpdateUserInput {
  readonly email?: string | undefined;
  readonly name?: string | undefined;
  /** Id or email of the new manager; null removes the manager. */
  readonly manager?: string | null | undefined;
}

export async function updateUser(
  deps: IdentityDeps,
  actor: Actor,
  ref: string,
  input: UpdateUserInput,
): Promise<UserRecord> {
  requireAdmin(actor, 'update users');
  return deps.store.transaction(async (tx) => {
    const before = await findUser(tx, ref);
    if (!before) throw notFound('user', ref);
    let managerId = before.managerId;
    if (input.manager === null) managerId = null;
    else if (input.manager !== undefined) {
      const manager = await resolveUser(tx, input.manager, 'manager');
      if (manager.id === before.id) {
        throw new CustosError('validation_failed', 'a user cannot be their own manager', {
          fields: [{ pointer: '/manager', detail: 'a user cannot be their own manager' }],
        });
      }
      managerId = manager.id;
    }
    let after: UserRecord | null;
    try {
      after = await tx.users.update(
        before.id,
        {
          ...(input.email !== undefined ? { email: input.email.toLowerCase() } : {}),
          ...(input.name !== undefined ? { name: input.name } : {}),
          managerId,
        },
        deps.clock.now(),
      );
    } catch (error) {
      if (error instanceof UniqueViolation) {
        throw new CustosError(
          'conflict',
          `a user with email \`${input.email?.toLowerCase()}\` already exists`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    if (!after) throw notFound('user', ref);
    await tx.notify(userEntityChange(before.id));
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'user.update',
      target: { type: 'user', id: before.id },
      changes: diffFields(before, after, ['email', 'name', 'managerId']),
    });
    return after;
  });
}

/**
 * Marks a person as gone. Their agents keep running under a deactivated owner
 * (they show up as orphaned until reassigned); their owner tokens stop working.
 */
export async function deactivateUser(
  deps: IdentityDeps,
  actor: Actor,
  ref: string,
  reason: string,
): Promise<UserRecord> {
  requireAdmin(actor, 'deactivate users');
  return deps.store.transaction(async (tx) => {
    const before = await findUser(tx, ref);
    if (!before) throw notFound('user', ref);
    const after = await tx.users.setStatus(before.id, 'active', 'deactivated', deps.clock.now());
    if (!after) throw new CustosError('invalid_transition', `user \`${before.id}\` is already deactivated`);
    await tx.notify(userEntityChange(before.id));
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'user.deactivate',
      target: { type: 'user', id: before.id },
      reason,
      changes: diffFields(before, after, ['status']),
    });
    return after;
  });
}
