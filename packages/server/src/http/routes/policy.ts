import {
  discardShadow,
  getPolicy,
  listPolicies,
  listPolicyVersions,
  promoteShadow,
  putPolicies,
  runPolicyTests,
  validatePolicies,
  whatIf,
} from '../../policy/index.js';
import * as P from '../policy-schemas.js';
import { policyDeps, versionView } from '../policy-views.js';
import { defineRoute } from '../route.js';
import { iso } from '../views.js';

const set = (body: {
  policies?: { id: string; text: string }[];
  sources?: { name: string; text: string }[];
}) => ({
  policies: body.policies,
  sources: body.sources,
});

export const policyRoutes = [
  defineRoute({
    method: 'PUT',
    path: '/api/v1/policies',
    operationId: 'putPolicies',
    summary: 'Replace the enforced or shadow policy set, validated against the schema (admin)',
    tag: 'policies',
    access: 'authenticated',
    body: P.PutPolicies,
    bodyLimit: P.POLICY_BODY_LIMIT,
    response: P.PutPoliciesResult,
    handler: async ({ deps, actor, body }) =>
      putPolicies(policyDeps(deps), actor, {
        ...set(body),
        mode: body.mode ?? 'enforce',
        reason: body.reason,
        dryRun: body.dryRun,
      }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/policies',
    operationId: 'listPolicies',
    summary: 'The enforced (or shadow) policy set, now or at a version',
    tag: 'policies',
    access: 'authenticated',
    query: P.PolicyQuery,
    response: P.PolicySet,
    handler: async ({ deps, actor, query }) =>
      listPolicies(policyDeps(deps), actor, query.mode ?? 'enforce', query.version),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/policies/{id}',
    operationId: 'getPolicy',
    summary: 'One policy: its text in each set and its history (who, when, why)',
    tag: 'policies',
    access: 'authenticated',
    params: P.PolicyIdParams,
    response: P.PolicyDetail,
    handler: async ({ deps, actor, params }) => {
      const p = await getPolicy(policyDeps(deps), actor, params.id);
      const view = (r: { text: string; version: number } | null) =>
        r ? { text: r.text, version: r.version } : null;
      return {
        id: p.id,
        enforce: view(p.enforce),
        shadow: view(p.shadow),
        history: p.history.map((h) => ({
          mode: h.mode,
          version: h.version,
          text: h.text,
          change: h.change ? versionView(h.change) : null,
        })),
      };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/policies/validate',
    operationId: 'validatePolicies',
    summary: 'Validate a policy set against the schema without storing it',
    tag: 'policies',
    access: 'authenticated',
    body: P.PolicySetBody,
    bodyLimit: P.POLICY_BODY_LIMIT,
    response: P.ValidateResult,
    handler: async ({ deps, actor, body }) => validatePolicies(policyDeps(deps), actor, set(body)),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/policies/test',
    operationId: 'testPolicies',
    summary: 'Run policy tests against a proposed set (or the enforced one)',
    tag: 'policies',
    access: 'authenticated',
    body: P.PolicyTests,
    bodyLimit: P.POLICY_BODY_LIMIT,
    response: P.PolicyTestsResult,
    handler: async ({ deps, actor, body }) =>
      runPolicyTests(policyDeps(deps), actor, { ...set(body), cases: body.cases }),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/policies/whatif',
    operationId: 'whatIfPolicies',
    summary: 'Replay recent decisions against a proposed set and list those that would change',
    tag: 'policies',
    access: 'authenticated',
    body: P.WhatIf,
    bodyLimit: P.POLICY_BODY_LIMIT,
    response: P.WhatIfResult,
    handler: async ({ deps, actor, body }) => {
      const result = await whatIf(policyDeps(deps), actor, { ...set(body), last: body.last ?? 1000 });
      return { ...result, changed: result.changed.map((c) => ({ ...c, at: iso(c.at) })) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/policies/shadow/promote',
    operationId: 'promoteShadowPolicies',
    summary: 'Make the shadow set the enforced set (admin)',
    tag: 'policies',
    access: 'authenticated',
    body: P.ReasonBody,
    response: P.PromoteResult,
    handler: async ({ deps, actor, body }) => promoteShadow(policyDeps(deps), actor, body.reason),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/policies/shadow/discard',
    operationId: 'discardShadowPolicies',
    summary: 'Stop shadow evaluation and drop the shadow set (admin)',
    tag: 'policies',
    access: 'authenticated',
    body: P.ReasonBody,
    response: P.PromoteResult,
    handler: async ({ deps, actor, body }) => discardShadow(policyDeps(deps), actor, body.reason),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/policy-versions',
    operationId: 'listPolicyVersions',
    summary: 'The history of policy, grant and schema changes, newest first',
    tag: 'policies',
    access: 'authenticated',
    query: P.VersionsQuery,
    response: P.VersionsPage,
    handler: async ({ deps, actor, query }) => {
      const page = await listPolicyVersions(policyDeps(deps), actor, {
        cursor: query.cursor,
        limit: query.limit ?? 50,
      });
      return { items: page.items.map(versionView), nextCursor: page.nextCursor };
    },
  }),
];
