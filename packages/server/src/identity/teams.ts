import { type Actor, recordAuditEvent } from '../audit/index.js';
import { CustosError } from '../core/index.js';
import { type Page, type PageRequest, type TeamRecord, UniqueViolation } from '../storage/index.js';
import { requireAdmin } from './access.js';
import type { IdentityDeps } from './deps.js';

export interface CreateTeamInput {
  readonly name: string;
  readonly description?: string | undefined;
}

/** Creates a team; its name is its identity (`Team::"<name>"` in policies). */
export async function createTeam(
  deps: IdentityDeps,
  actor: Actor,
  input: CreateTeamInput,
): Promise<TeamRecord> {
  requireAdmin(actor, 'create teams');
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const team: TeamRecord = {
      name: input.name,
      description: input.description ?? '',
      createdAt: now,
      updatedAt: now,
    };
    try {
      await tx.teams.insert(team);
    } catch (error) {
      if (error instanceof UniqueViolation) {
        throw new CustosError('conflict', `team \`${team.name}\` already exists`, { cause: error });
      }
      throw error;
    }
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'team.create',
      target: { type: 'team', id: team.name },
      details: { description: team.description },
    });
    return team;
  });
}

export function listTeams(deps: IdentityDeps, request: PageRequest): Promise<Page<TeamRecord>> {
  return deps.store.teams.list(request);
}
