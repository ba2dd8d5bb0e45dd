import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createTestDatabase, type TestDatabase } from '../../test/support/databases.js';
import { agentRecord, userRecord } from '../../test/support/records.js';
import type { Actor } from '../audit/index.js';
import { manualClock } from '../core/index.js';
import { addGrant, PolicyEngine, putSchema } from '../policy/index.js';
import { createGroupCommitter, openStore, type Store } from '../storage/index.js';
import { CallAudit } from './call-audit.js';
import { authorizeCall, type CallFacts, CallRefused, type PipelineDeps } from './call-pipeline.js';
import { gatewaySchemaBlock, inputUnion } from './cedar-input-types.js';
import { GatewayError } from './gateway-error.js';
import { CallCounters, RateLimiter } from './rate-limiter.js';
import type { VerifiedCaller } from './token-check.js';

const T0 = Date.UTC(2026, 0, 1);
const ADMIN: Actor = { type: 'admin_token', id: 'tok_test', role: 'admin', userId: null, requestId: null };
const TOOL = { type: 'Tool', id: 'srv/t' } as const;

/** A promise settled from outside: a DPoP proof whose signature is still being checked. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const ticks = () => new Promise((resolve) => setImmediate(resolve));

describe('a call decided while its DPoP proof is checked (sqlite)', () => {
  let db: TestDatabase;
  let store: Store;
  let engine: PolicyEngine;
  let audit: CallAudit;
  let committer: ReturnType<typeof createGroupCommitter>;
  let agentId: string;
  let decisions = 0;
  const clock = manualClock(T0);

  before(async () => {
    db = await createTestDatabase('sqlite');
    store = await openStore(db.url, { migrate: true, nowMs: T0 });
    const owner = userRecord('o@example.com', T0);
    await store.users.insert(owner);
    const agent = agentRecord(owner.id, T0, { requireDpop: true });
    agentId = agent.id;
    await store.agents.insert(agent);
    engine = new PolicyEngine({ store, clock });
    // the gateway's typed contexts (what registering an upstream writes)
    await putSchema({ store, clock, engine }, ADMIN, {
      text: gatewaySchemaBlock(inputUnion([]), []),
      reason: 'test',
    });
    // the first call of a session, and fewer than 3 calls an hour
    await addGrant({ store, clock, engine }, ADMIN, {
      principal: { type: 'Agent', id: agentId },
      action: 'tools/call',
      resource: TOOL,
      condition: 'context.session.calls < 1 && context.session.callsLastHour < 3',
      reason: 'test',
    });
    // every decision the real engine makes is counted
    const decide = engine.decide.bind(engine);
    engine.decide = (request) => {
      decisions++;
      return decide(request);
    };
    const logger = pino({ level: 'silent' });
    committer = createGroupCommitter(store);
    audit = new CallAudit(
      { committer, clock, logger },
      { mode: 'fast', keepArguments: false, argumentsKey: randomBytes(32) },
    );
  });
  after(async () => {
    await committer?.drain(); // the refusals' records
    engine?.close();
    await store?.close();
    await db?.drop();
  });

  /** Fresh limits and counters: one call per agent in a burst. */
  const pipeline = (): PipelineDeps => ({
    engine,
    clock,
    logger: pino({ level: 'silent' }),
    audit,
    limiter: new RateLimiter(),
    counters: new CallCounters(),
    agentLimit: { rate: 0.001, burst: 1 },
    dpopWindowMs: 60_000,
    approvals: { store, clock, ttlMs: 60_000 },
  });
  const caller = (): VerifiedCaller => ({
    agentId,
    onBehalfOf: null,
    chain: [],
    consentId: null,
    consentTools: null,
    restricted: false,
    tokenId: 'tok_1',
    jkt: 'jkt',
    proof: null,
    scopes: [],
    claims: {},
  });
  const facts = (sessionCalls: number): CallFacts => ({
    gateway: 'mcp',
    upstream: 'mcp:srv',
    upstreamName: 'srv',
    method: 'tools/call',
    action: 'tools/call',
    resource: TOOL,
    context: { input: {}, server: 'srv', tool: 't' },
    args: {},
    limits: {},
    sessionCalls,
    sessionId: 'session-1',
    sourceAddress: '127.0.0.1',
    requestId: 'req_1',
  });

  /** A call authorized with its proof still pending, once it was decided meanwhile; fresh limits and counters. */
  async function pendingCall() {
    const deps = pipeline();
    const proof = deferred<{ caller: VerifiedCaller; sessionCalls: number }>();
    decisions = 0;
    const call = authorizeCall(deps, caller(), facts(0), proof.promise);
    await ticks();
    assert.equal(decisions, 1, 'decided while the proof is pending');
    assert.equal(
      deps.counters.peek(agentId, 'Tool::"srv/t"', clock.now()).callsLastHour,
      0,
      'nothing counted',
    );
    return { deps, proof, call };
  }
  const refused = (error: unknown) => error instanceof CallRefused && error.kind === 'refused';

  it('decides before the proof checked out, and keeps that decision when nothing changed', async () => {
    const { deps, proof, call } = await pendingCall();
    proof.resolve({ caller: { ...caller(), proof: { jti: 'j1', iat: T0 / 1000 } }, sessionCalls: 0 });
    const authorized = await call;
    assert.equal(authorized.decision.allowed, true);
    assert.equal(decisions, 1, 'not decided again');
    assert.equal(deps.counters.peek(agentId, 'Tool::"srv/t"', clock.now()).callsLastHour, 1);
  });

  it('a proof that fails changes nothing: no limit taken, no call counted', async () => {
    const { deps, proof, call } = await pendingCall();
    proof.reject(new GatewayError('invalid_dpop_proof', 'DPoP proof signature does not verify'));
    await assert.rejects(
      call,
      (error) => error instanceof GatewayError && error.code === 'invalid_dpop_proof',
    );
    assert.equal(deps.counters.peek(agentId, 'Tool::"srv/t"', clock.now()).callsLastHour, 0);
    // the agent's burst of one call is still there
    const next = await authorizeCall(deps, caller(), facts(0));
    assert.equal(next.decision.allowed, true);
  });

  it('decides again with the session count read once the proof checked out', async () => {
    const { proof, call } = await pendingCall();
    // another call of the session went ahead meanwhile: this one is its second
    proof.resolve({ caller: caller(), sessionCalls: 1 });
    await assert.rejects(call, refused);
    assert.equal(decisions, 2);
  });

  it('decides again when calls of the agent were counted meanwhile', async () => {
    const { deps, proof, call } = await pendingCall();
    for (let i = 0; i < 3; i++) deps.counters.observe(agentId, 'Tool::"srv/t"', clock.now());
    proof.resolve({ caller: caller(), sessionCalls: 0 });
    await assert.rejects(call, refused);
    assert.equal(decisions, 2);
  });
});
