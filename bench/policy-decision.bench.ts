/**
 * Policy decisions: the engine's `decide` (entity gathering from its cache,
 * policy selection by principal and resource, one pre-parsed Cedar call, the
 * any-error-denies rule) with 100 and with 10,000 stored policies, most of them
 * about other agents, over a real SQLite store.
 *
 * The floor, measured in the same run: a raw `statefulIsAuthorized` call of
 * cedar-wasm on a set pre-parsed from exactly the policies that apply, with the
 * same entities and context. Goals: the 10,000 case within 2x the 100 case; the
 * engine within 1.5x the floor.
 *
 * Every measured decision carries a context the policies read and that no
 * earlier decision had (`input.repo` differs each time), so the engine's memo
 * never answers and each decision is a real Cedar call, as the floor's. A last
 * line reports repeated decisions (the same request again: the memo's answer).
 *
 * Run: node --import tsx bench/policy-decision.bench.ts  (env BENCH_DECISIONS=n to change the count)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wasm from '@cedar-policy/cedar-wasm/nodejs';
import type { Actor } from '../packages/server/src/audit/index.js';
import { newId, systemClock } from '../packages/server/src/core/index.js';
import {
  type DecisionRequest,
  PolicyEngine,
  putPolicies,
  putSchema,
  upsertEntities,
} from '../packages/server/src/policy/index.js';
import { openStore, type Store } from '../packages/server/src/storage/index.js';
import { percentile } from './support.js';

const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 5000);
const ADMIN: Actor = { type: 'system', id: 'bench', role: 'admin', userId: null, requestId: null };

// The default extension, with `tools/call` given a typed input so conditions can read it.
const SCHEMA = `entity McpServer;
entity Tool in [McpServer];
entity Api;
entity Route in [Api];
action "tools/call" appliesTo { principal: [Agent, User], resource: [Tool], context: { input?: { amount?: Long, repo?: String } } };
action "resources/read", "prompts/get" appliesTo { principal: [Agent, User], resource: [McpServer] };
action "http:GET", "http:HEAD", "http:POST", "http:PUT", "http:PATCH", "http:DELETE" appliesTo { principal: [Agent, User], resource: [Route] };
`;

const AMOUNT = 'context has input && context.input has amount && context.input.amount <= 1000';

/** The policies that apply to the bench agent calling `github/create_issue`: its own, and global ones. */
function applicable(agentId: string): Record<string, string> {
  return {
    'bench-issues': `permit (principal == Agent::"${agentId}", action == Action::"tools/call", resource == Tool::"github/create_issue") when { ${AMOUNT} };`,
    'bench-github': `permit (principal == Agent::"${agentId}", action == Action::"tools/call", resource in McpServer::"github") when { principal.riskLevel != "high" };`,
    'team-payments': `permit (principal in Team::"payments", action == Action::"tools/call", resource in McpServer::"github") when { principal.hasTag("env") && principal.getTag("env") == "prod" };`,
    'no-critical-agents':
      'forbid (principal is Agent, action, resource) when { principal.riskLevel == "critical" };',
    'big-amounts':
      'forbid (principal, action == Action::"tools/call", resource) when { context has input && context.input has amount && context.input.amount > 100000 };',
  };
}

/** `total` policies: the applicable ones, one global forbid on another tool, the rest about other agents. */
function policySet(agentId: string, total: number): { id: string; text: string }[] {
  const mine = Object.entries(applicable(agentId)).map(([id, text]) => ({ id, text }));
  // global, but about another resource: the index leaves it out of this decision
  mine.push({
    id: 'no-repo-delete',
    text: 'forbid (principal, action == Action::"tools/call", resource == Tool::"github/delete_repo");',
  });
  const others = Array.from({ length: total - mine.length }, (_, i) => ({
    id: `other-${i}`,
    text: `permit (principal == Agent::"agt_other${String(i).padStart(21, '0')}", action == Action::"tools/call", resource in McpServer::"github") when { ${AMOUNT} };`,
  }));
  return [...mine, ...others];
}

async function setUp(store: Store, engine: PolicyEngine): Promise<string> {
  const now = Date.now();
  const owner = {
    id: newId('usr', now),
    email: 'bench@example.com',
    name: 'Bench',
    status: 'active' as const,
    managerId: null,
    createdAt: now,
    updatedAt: now,
  };
  await store.users.insert(owner);
  await store.teams.insert({ name: 'payments', description: '', createdAt: now, updatedAt: now });
  const agentId = newId('agt', now);
  await store.agents.insert({
    id: agentId,
    name: 'bench-agent',
    ownerId: owner.id,
    team: 'payments',
    purpose: 'benchmark',
    environment: 'default',
    tags: { env: 'prod' },
    riskLevel: 'low',
    status: 'active',
    statusReason: null,
    expiresAt: now + 86_400_000,
    allowedScopes: ['read'],
    allowedAudiences: [],
    requireDpop: false,
    createdAt: now,
    updatedAt: now,
  });
  const deps = { store, clock: systemClock, engine };
  await putSchema(deps, ADMIN, { text: SCHEMA, reason: 'bench' });
  await upsertEntities(
    deps,
    ADMIN,
    [
      { uid: { type: 'McpServer', id: 'github' } },
      { uid: { type: 'Tool', id: 'github/create_issue' }, parents: [{ type: 'McpServer', id: 'github' }] },
    ],
    null,
  );
  return agentId;
}

const timeUs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1000;

/** A context no other decision of the run carries: the memo cannot answer it. */
let fresh = 0;
const freshContext = () => ({ input: { amount: 5, repo: `bench-${fresh++}` } });

async function measureEngine(
  engine: PolicyEngine,
  request: DecisionRequest,
  repeat = false,
): Promise<number[]> {
  const next = (): DecisionRequest => (repeat ? request : { ...request, context: freshContext() });
  for (let i = 0; i < 500; i++) await engine.decide(next());
  const samples: number[] = [];
  for (let i = 0; i < DECISIONS; i++) {
    const ask = next();
    const start = process.hrtime.bigint();
    const d = await engine.decide(ask);
    samples.push(timeUs(start));
    if (!d.allowed) throw new Error(`the bench decision must allow: ${JSON.stringify(d)}`);
  }
  return samples.sort((a, b) => a - b);
}

/** The floor: a raw pre-parsed cedar-wasm call on exactly the applicable policies, same entities and context. */
async function measureRaw(
  engine: PolicyEngine,
  agentId: string,
  request: DecisionRequest,
): Promise<number[]> {
  const gathered = await engine.entities.gather([
    { uid: request.principal, overlay: null },
    { uid: request.resource, overlay: null },
  ]);
  const parsed = wasm.preparsePolicySet('bench-floor', { staticPolicies: applicable(agentId) });
  if (parsed.type !== 'success') throw new Error(JSON.stringify(parsed));
  const call = () => ({
    principal: { type: 'Agent', id: agentId },
    action: { type: 'Action', id: request.action },
    resource: { type: request.resource.type, id: request.resource.id },
    context: freshContext(),
    preparsedPolicySetId: 'bench-floor',
    entities: gathered.entities,
  });
  for (let i = 0; i < 500; i++) wasm.statefulIsAuthorized(call());
  const samples: number[] = [];
  for (let i = 0; i < DECISIONS; i++) {
    const input = call();
    const start = process.hrtime.bigint();
    const answer = wasm.statefulIsAuthorized(input);
    samples.push(timeUs(start));
    if (answer.type !== 'success' || answer.response.decision !== 'allow')
      throw new Error(JSON.stringify(answer));
  }
  return samples.sort((a, b) => a - b);
}

async function runCase(total: number) {
  const dir = mkdtempSync(join(tmpdir(), 'custos-bench-policy-'));
  const store = await openStore(`sqlite:${join(dir, 'custos.db')}`, { migrate: true });
  const engine = new PolicyEngine({ store, clock: systemClock });
  try {
    const agentId = await setUp(store, engine);
    const started = process.hrtime.bigint();
    await putPolicies({ store, clock: systemClock, engine }, ADMIN, {
      mode: 'enforce',
      policies: policySet(agentId, total),
      reason: 'bench',
    });
    const applySeconds = timeUs(started) / 1e6;
    const request: DecisionRequest = {
      principal: { type: 'Agent', id: agentId },
      action: 'tools/call',
      resource: { type: 'Tool', id: 'github/create_issue' },
      context: { input: { amount: 5 } },
    };
    const check = await engine.decide(request);
    const expected = Object.keys(applicable(agentId)).length;
    if (check.evaluated !== expected)
      throw new Error(`evaluated ${check.evaluated} policies, expected ${expected}`);
    // alternate the two measurements so drift in machine load hits both alike
    const engineSamples: number[] = [];
    const rawSamples: number[] = [];
    for (let round = 0; round < 4; round++) {
      engineSamples.push(...(await measureEngine(engine, request)));
      rawSamples.push(...(await measureRaw(engine, agentId, request)));
    }
    engineSamples.sort((a, b) => a - b);
    rawSamples.sort((a, b) => a - b);
    const repeated = await measureEngine(engine, request, true);
    return {
      total,
      applySeconds,
      evaluated: check.evaluated,
      engine: engineSamples,
      raw: rawSamples,
      repeated,
    };
  } finally {
    engine.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const cases = [await runCase(100), await runCase(10_000)];
  const [small, large] = cases as [Awaited<ReturnType<typeof runCase>>, Awaited<ReturnType<typeof runCase>>];
  const row = (c: typeof small) => {
    const e50 = percentile(c.engine, 50);
    const e99 = percentile(c.engine, 99);
    const r50 = percentile(c.raw, 50);
    const r99 = percentile(c.raw, 99);
    return `| ${c.total.toLocaleString('en')} | ${c.evaluated} | ${e50.toFixed(1)} | ${e99.toFixed(1)} | ${r50.toFixed(1)} | ${r99.toFixed(1)} | **${(e50 / r50).toFixed(2)}×** | ${(e99 / r99).toFixed(2)}× | ${c.applySeconds.toFixed(1)} |`;
  };
  const scale50 = percentile(large.engine, 50) / percentile(small.engine, 50);
  const scale99 = percentile(large.engine, 99) / percentile(small.engine, 99);
  process.stdout.write(
    [
      `policy decisions: ${4 * DECISIONS} per case, in process, SQLite store (entity cache warm), cedar-wasm ${wasm.getCedarVersion()}`,
      '',
      '| stored policies | evaluated | engine p50 µs | engine p99 µs | floor p50 µs | floor p99 µs | engine / floor p50 | engine / floor p99 | apply s |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...cases.map(row),
      '',
      `10,000 vs 100 stored policies: p50 **${scale50.toFixed(2)}×**, p99 ${scale99.toFixed(2)}× (goal ≤ 2×); engine vs floor goal ≤ 1.5×`,
      '',
      `repeated decisions (the same request again, answered by the memo): ${cases
        .map(
          (c) =>
            `${c.total.toLocaleString('en')} policies p50 ${percentile(c.repeated, 50).toFixed(1)} µs, p99 ${percentile(c.repeated, 99).toFixed(1)} µs`,
        )
        .join('; ')}`,
      '',
    ].join('\n'),
  );
}

await main();
