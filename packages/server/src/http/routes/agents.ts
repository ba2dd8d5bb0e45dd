import { Type } from '@sinclair/typebox';
import {
  type AgentTransition,
  agentStatusHistory,
  createAgent,
  findUser,
  getAgent,
  listAgents,
  transitionAgent,
  updateAgent,
} from '../../identity/index.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { agentView, parseTimestamp, statusChangeView } from '../views.js';

const AgentParams = S.IdParams('agt');

function transitionRoute(transition: AgentTransition, summary: string) {
  return defineRoute({
    method: 'POST',
    path: `/api/v1/agents/{id}/${transition}`,
    operationId: `${transition}Agent`,
    summary,
    tag: 'agents',
    access: 'authenticated',
    params: AgentParams,
    body: S.Reason,
    response: S.Agent,
    handler: async ({ deps, actor, params, body }) =>
      agentView(await transitionAgent(deps, actor, params.id, transition, body.reason)),
  });
}

function splitTags(pairs: readonly string[] | undefined): Record<string, string> | undefined {
  if (!pairs) return undefined;
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    tags[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return tags;
}

export const agentRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/agents',
    operationId: 'createAgent',
    summary: 'Register an agent under an accountable owner',
    tag: 'agents',
    access: 'authenticated',
    status: 201,
    body: S.CreateAgent,
    response: S.Agent,
    handler: async ({ deps, actor, body }) =>
      agentView(
        await createAgent(deps, actor, {
          ...body,
          expiresAt: body.expiresAt === undefined ? undefined : parseTimestamp(body.expiresAt, 'expiresAt'),
        }),
      ),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/agents',
    operationId: 'listAgents',
    summary: 'Search the agent inventory',
    tag: 'agents',
    access: 'authenticated',
    query: S.AgentQuery,
    response: S.Page(S.Agent),
    handler: async ({ deps, actor, query }) => {
      let ownerId: string | undefined;
      if (query.owner !== undefined) {
        const owner = await findUser(deps.store, query.owner);
        if (!owner) return { items: [], nextCursor: null }; // an unknown owner owns nothing
        ownerId = owner.id;
      }
      const page = await listAgents(deps, actor, {
        cursor: query.cursor,
        limit: query.limit ?? 50,
        ownerId,
        team: query.team,
        status: query.status,
        environment: query.environment,
        tags: splitTags(query.tag),
        q: query.q,
      });
      return { items: page.items.map(agentView), nextCursor: page.nextCursor };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/agents/{id}',
    operationId: 'getAgent',
    summary: 'Read an agent',
    tag: 'agents',
    access: 'authenticated',
    params: AgentParams,
    response: S.Agent,
    handler: async ({ deps, actor, params }) => agentView(await getAgent(deps, actor, params.id)),
  }),
  defineRoute({
    method: 'PATCH',
    path: '/api/v1/agents/{id}',
    operationId: 'updateAgent',
    summary: 'Change an agent’s descriptive fields',
    tag: 'agents',
    access: 'authenticated',
    params: AgentParams,
    body: S.UpdateAgent,
    response: S.Agent,
    handler: async ({ deps, actor, params, body }) =>
      agentView(
        await updateAgent(deps, actor, params.id, {
          ...body,
          expiresAt: body.expiresAt === undefined ? undefined : parseTimestamp(body.expiresAt, 'expiresAt'),
        }),
      ),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/agents/{id}/history',
    operationId: 'getAgentHistory',
    summary: 'An agent’s status changes, oldest first',
    tag: 'agents',
    access: 'authenticated',
    params: AgentParams,
    response: Type.Object({ items: Type.Array(S.StatusChange) }),
    handler: async ({ deps, actor, params }) => ({
      items: (await agentStatusHistory(deps, actor, params.id)).map(statusChangeView),
    }),
  }),
  transitionRoute('suspend', 'Suspend an active agent (reversible)'),
  transitionRoute('resume', 'Resume a suspended agent'),
  transitionRoute('decommission', 'Decommission an agent for good (terminal; its name becomes free)'),
];
