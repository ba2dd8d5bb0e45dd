import { type Static, type TSchema, Type } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Actor, type AuditEntry, auditStatement } from '../../audit/index.js';
import { CustosError } from '../../core/index.js';
import {
  type AuthzenParts,
  AuthzenRequestError,
  type Decision,
  type DecisionRequest,
  decisionAuditEntry,
  decisionBody,
  type EvaluationsSemantic,
  mergeDefaults,
  pageOf,
  searchActions,
  searchResources,
  searchSubjects,
  stopsAfter,
  toDecisionRequest,
} from '../../policy/index.js';
import { authenticatePdpCaller } from '../authzen-auth.js';
import type { AppDeps } from '../deps.js';
import { policyDeps } from '../policy-views.js';
import { toProblem } from '../problem.js';

/**
 * OpenID AuthZEN Authorization API 1.0: the policy decision point any
 * enforcement point can ask. Successful answers use AuthZEN's JSON shapes;
 * refusals of the whole request are RFC 9457 problems (400, 401, 403). Unknown
 * request members are ignored, as the specification requires.
 */
export const AUTHZEN_PATHS = {
  metadata: '/.well-known/authzen-configuration',
  evaluation: '/access/v1/evaluation',
  evaluations: '/access/v1/evaluations',
  searchSubject: '/access/v1/search/subject',
  searchResource: '/access/v1/search/resource',
  searchAction: '/access/v1/search/action',
} as const;

/** At most this many evaluations in one batch. */
export const MAX_EVALUATIONS = 1000;

const Properties = Type.Record(Type.String(), Type.Unknown());
const Entity = Type.Object({ type: Type.String(), id: Type.String(), properties: Type.Optional(Properties) });
const SearchedEntity = Type.Object({ type: Type.String(), properties: Type.Optional(Properties) });
const PartialEntity = Type.Object({
  type: Type.Optional(Type.String()),
  id: Type.Optional(Type.String()),
  properties: Type.Optional(Properties),
});
const Action = Type.Object({ name: Type.String(), properties: Type.Optional(Properties) });
const PartialAction = Type.Object({
  name: Type.Optional(Type.String()),
  properties: Type.Optional(Properties),
});
const Page = Type.Object({
  token: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1 })),
});

const EvaluationBody = Type.Object({
  subject: Entity,
  action: Action,
  resource: Entity,
  context: Type.Optional(Properties),
});
const EvaluationsBody = Type.Object({
  subject: Type.Optional(PartialEntity),
  action: Type.Optional(PartialAction),
  resource: Type.Optional(PartialEntity),
  context: Type.Optional(Properties),
  options: Type.Optional(
    Type.Object({
      evaluations_semantic: Type.Optional(
        Type.Union([
          Type.Literal('execute_all'),
          Type.Literal('deny_on_first_deny'),
          Type.Literal('permit_on_first_permit'),
        ]),
      ),
    }),
  ),
  // items are checked one by one: a bad item is a deny for that item, not a bad request
  evaluations: Type.Optional(Type.Array(Type.Unknown(), { maxItems: MAX_EVALUATIONS })),
});
const SubjectSearchBody = Type.Object({
  subject: SearchedEntity,
  action: Action,
  resource: Entity,
  context: Type.Optional(Properties),
  page: Type.Optional(Page),
});
const ResourceSearchBody = Type.Object({
  subject: Entity,
  action: Action,
  resource: SearchedEntity,
  context: Type.Optional(Properties),
  page: Type.Optional(Page),
});
const ActionSearchBody = Type.Object({
  subject: Entity,
  resource: Entity,
  context: Type.Optional(Properties),
  page: Type.Optional(Page),
});

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The AuthZEN error answer: problem+json, 400 for anything wrong with the request (never 415). */
async function sendError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  let { body, internal } = toProblem(error, request.id);
  if (body.status === 415)
    ({ body, internal } = toProblem(new CustosError('malformed_body', body.detail), request.id));
  if (internal) request.log.error({ err: error }, 'authzen request failed');
  else request.log.info({ problem: body.type, detail: body.detail }, 'authzen request refused');
  if (body.status === 401) reply.header('www-authenticate', 'Bearer realm="custos", DPoP realm="custos"');
  return reply.status(body.status).type('application/problem+json').send(body);
}

/**
 * Records the decisions of one request in the audit log (group commit) before
 * the answer leaves: no record, no decision.
 */
async function record(deps: AppDeps, actor: Actor, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  try {
    await deps.oauth.committer.submit({
      statements: entries.map((e) => auditStatement(deps.clock, actor, e)),
    });
  } catch (error) {
    throw new CustosError('unavailable', 'the decision could not be recorded; try again', { cause: error });
  }
}

/** The audit entry of an evaluation that could not be mapped to a Cedar request (it is a deny). */
function unmappedEntry(parts: AuthzenParts, message: string): AuditEntry {
  const describe = (e: unknown) => (isObject(e) ? { type: e.type, id: e.id } : null);
  return {
    action: 'policy.decision',
    target: null,
    outcome: 'denied',
    reason: `invalid evaluation: ${message}`,
    details: {
      source: 'authzen',
      decision: 'deny',
      error: message,
      subject: describe(parts.subject),
      action: isObject(parts.action) ? parts.action.name : null,
      resource: describe(parts.resource),
    },
  };
}

type Evaluated =
  | { readonly ok: true; readonly request: DecisionRequest; readonly decision: Decision }
  | { readonly ok: false; readonly parts: AuthzenParts; readonly error: string };

async function evaluate(deps: AppDeps, parts: AuthzenParts): Promise<Evaluated> {
  let request: DecisionRequest;
  try {
    request = toDecisionRequest(parts);
  } catch (error) {
    if (error instanceof AuthzenRequestError) return { ok: false, parts, error: error.message };
    throw error;
  }
  return { ok: true, request, decision: await deps.policy.decide(request) };
}

const answerOf = (e: Evaluated) =>
  e.ok ? decisionBody(e.decision) : { decision: false, context: { error: e.error } };
const entryOf = (e: Evaluated) =>
  e.ok ? decisionAuditEntry(e.request, e.decision, 'authzen') : unmappedEntry(e.parts, e.error);

/** Runs a search, auditing it as one event; unmappable candidates are simply not results. */
async function search<T>(
  deps: AppDeps,
  actor: Actor,
  kind: 'subject' | 'resource' | 'action',
  body: Json,
  run: () => Promise<{ results: readonly T[]; version: number; evaluated: number }>,
  view: (r: T) => unknown,
) {
  let outcome: { results: readonly T[]; version: number; evaluated: number };
  try {
    outcome = await run();
  } catch (error) {
    if (!(error instanceof AuthzenRequestError)) throw error;
    outcome = { results: [], version: -1, evaluated: 0 };
  }
  let paged: ReturnType<typeof pageOf<unknown>>;
  try {
    paged = pageOf(outcome.results.map(view), isObject(body.page) ? body.page : undefined);
  } catch (error) {
    if (!(error instanceof AuthzenRequestError)) throw error;
    throw new CustosError('validation_failed', error.message, {
      fields: [{ pointer: '/page/token', detail: error.message }],
    });
  }
  await record(deps, actor, [
    {
      action: 'policy.search',
      target: null,
      details: {
        source: 'authzen',
        kind,
        subject: body.subject,
        action: body.action ?? null,
        resource: body.resource,
        version: outcome.version,
        evaluated: outcome.evaluated,
        results: paged.results.slice(0, 100),
      },
    },
  ]);
  return paged;
}

/** Mounts the AuthZEN endpoints and the PDP metadata document. */
export function registerAuthzenRoutes(app: FastifyInstance, deps: AppDeps): void {
  const issuer = deps.config.issuer;
  app.get(AUTHZEN_PATHS.metadata, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send({
      policy_decision_point: issuer,
      access_evaluation_endpoint: `${issuer}${AUTHZEN_PATHS.evaluation}`,
      access_evaluations_endpoint: `${issuer}${AUTHZEN_PATHS.evaluations}`,
      search_subject_endpoint: `${issuer}${AUTHZEN_PATHS.searchSubject}`,
      search_resource_endpoint: `${issuer}${AUTHZEN_PATHS.searchResource}`,
      search_action_endpoint: `${issuer}${AUTHZEN_PATHS.searchAction}`,
    }),
  );

  const post = <S extends TSchema>(
    path: string,
    schema: S,
    handler: (actor: Actor, body: Static<S>) => Promise<unknown>,
  ) => {
    app.route({
      method: 'POST',
      url: path,
      schema: { body: schema },
      // runs before the body is read: an unauthenticated caller cannot make the server parse it
      onRequest: async (request, reply) => {
        const echoed = request.headers['x-request-id'];
        if (typeof echoed === 'string' && /^[\x21-\x7e]{1,200}$/.test(echoed))
          reply.header('x-request-id', echoed);
        request.actor = await authenticatePdpCaller(deps, request);
      },
      errorHandler: sendError,
      handler: async (request, reply) => {
        const actor = request.actor;
        if (!actor) throw new Error('INVARIANT: AuthZEN route without an authenticated caller');
        const result = await handler(actor, request.body as Static<S>);
        return reply.status(200).type('application/json').send(result);
      },
    });
  };

  post(AUTHZEN_PATHS.evaluation, EvaluationBody, async (actor, body) => {
    const evaluated = await evaluate(deps, body);
    await record(deps, actor, [entryOf(evaluated)]);
    return answerOf(evaluated);
  });

  post(AUTHZEN_PATHS.evaluations, EvaluationsBody, async (actor, body) => {
    const items = Array.isArray(body.evaluations) ? body.evaluations : [];
    if (items.length === 0) {
      // no batch: the single Access Evaluation API, backwards compatible
      for (const [field, test] of [
        ['subject', (v: unknown) => isObject(v) && typeof v.type === 'string' && typeof v.id === 'string'],
        ['action', (v: unknown) => isObject(v) && typeof v.name === 'string'],
        ['resource', (v: unknown) => isObject(v) && typeof v.type === 'string' && typeof v.id === 'string'],
      ] as const) {
        if (!test(body[field])) {
          throw new CustosError('validation_failed', `missing or incomplete \`${field}\``, {
            fields: [{ pointer: `/${field}`, detail: `missing or incomplete \`${field}\`` }],
          });
        }
      }
      const evaluated = await evaluate(deps, body);
      await record(deps, actor, [entryOf(evaluated)]);
      return answerOf(evaluated);
    }
    const options = isObject(body.options) ? body.options : {};
    const semantic = (options.evaluations_semantic ?? 'execute_all') as EvaluationsSemantic;
    const results: Evaluated[] = [];
    for (const item of items) {
      const parts = isObject(item) ? mergeDefaults(body, item) : { ...body, subject: undefined };
      const evaluated = isObject(item)
        ? await evaluate(deps, parts)
        : { ok: false as const, parts, error: 'each evaluation must be an object' };
      results.push(evaluated);
      if (stopsAfter(semantic, evaluated.ok && evaluated.decision.allowed)) break;
    }
    await record(deps, actor, results.map(entryOf));
    return { evaluations: results.map(answerOf) };
  });

  const pd = policyDeps(deps);
  post(AUTHZEN_PATHS.searchSubject, SubjectSearchBody, (actor, body) =>
    search(
      deps,
      actor,
      'subject',
      body,
      () => searchSubjects(pd, body),
      (u) => u,
    ),
  );
  post(AUTHZEN_PATHS.searchResource, ResourceSearchBody, (actor, body) =>
    search(
      deps,
      actor,
      'resource',
      body,
      () => searchResources(pd, body),
      (u) => u,
    ),
  );
  post(AUTHZEN_PATHS.searchAction, ActionSearchBody, (actor, body) =>
    search(
      deps,
      actor,
      'action',
      body,
      () => searchActions(pd, body),
      (name) => ({ name }),
    ),
  );
}
