import { createTeam, listTeams } from '../../identity/index.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { teamView } from '../views.js';

export const teamRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/teams',
    operationId: 'createTeam',
    summary: 'Create a team (admin)',
    tag: 'teams',
    access: 'authenticated',
    status: 201,
    body: S.CreateTeam,
    response: S.Team,
    handler: async ({ deps, actor, body }) => teamView(await createTeam(deps, actor, body)),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/teams',
    operationId: 'listTeams',
    summary: 'List teams',
    tag: 'teams',
    access: 'authenticated',
    query: S.PageQuery,
    response: S.Page(S.Team),
    handler: async ({ deps, query }) => {
      const page = await listTeams(deps, { cursor: query.cursor, limit: query.limit ?? 50 });
      return { items: page.items.map(teamView), nextCursor: page.nextCursor };
    },
  }),
];
