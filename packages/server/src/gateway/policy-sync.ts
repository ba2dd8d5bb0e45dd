import type { Actor } from '../audit/index.js';
import { CustosError } from '../core/index.js';
import {
  deleteEntity,
  type EntityInput,
  getSchema,
  listEntities,
  type PolicyDeps,
  putSchema,
  upsertEntities,
} from '../policy/index.js';
import type { UpstreamKind } from '../storage/index.js';
import { gatewaySchemaBlock, inputUnion, withGatewayBlock } from './cedar-input-types.js';
import { compilePattern } from './route-pattern.js';
import { httpApiOf, mcpServerOf, routeId, toolId } from './upstream-spec.js';

/** What keeping the policy model in step with an upstream found. */
export interface SyncReport {
  /** The Cedar schema was changed. */
  readonly schemaApplied: boolean;
  /** Arguments policies cannot name, and a schema change that was refused (with why). */
  readonly warnings: readonly string[];
}

async function storedOfType(deps: PolicyDeps, actor: Actor, type: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await listEntities(deps, actor, { type, cursor, limit: 500 });
    for (const e of page.items) ids.push(e.id);
    if (!page.nextCursor) return ids;
    cursor = page.nextCursor;
  }
}

/** Makes the stored entities of one upstream match it: the server and its tools, or the API and its routes. */
async function syncEntities(
  deps: PolicyDeps,
  actor: Actor,
  kind: UpstreamKind,
  name: string,
  reason: string,
): Promise<void> {
  const record = await deps.store.gatewayUpstreams.get(kind, name);
  const [parentType, childType] = kind === 'mcp' ? ['McpServer', 'Tool'] : ['Api', 'Route'];
  const desired: EntityInput[] = [];
  if (record) {
    desired.push({ uid: { type: parentType, id: name }, attrs: {}, parents: [] });
    const children =
      kind === 'mcp'
        ? mcpServerOf(record).tools.map((t) => toolId(name, t.name))
        : httpApiOf(record).spec.routes.map((r) => routeId(name, r));
    for (const id of children)
      desired.push({ uid: { type: childType, id }, attrs: {}, parents: [{ type: parentType, id: name }] });
  }
  const keep = new Set(desired.map((e) => ('__entity' in e.uid ? e.uid.__entity.id : e.uid.id)));
  const stale = (await storedOfType(deps, actor, childType)).filter(
    (id) => id.startsWith(`${name}/`) && !keep.has(id),
  );
  if (!record && (await storedOfType(deps, actor, parentType)).includes(name)) stale.push(`\u0000${name}`);
  for (const id of stale) {
    const uid = id.startsWith('\u0000') ? { type: parentType, id: id.slice(1) } : { type: childType, id };
    await deleteEntity(deps, actor, uid, reason).catch((error: unknown) => {
      if (!(error instanceof CustosError && error.code === 'not_found')) throw error;
    });
  }
  for (let i = 0; i < desired.length; i += 100)
    await upsertEntities(deps, actor, desired.slice(i, i + 100), reason);
}

/** The gateway's schema block as the registered upstreams define it now. */
async function currentBlock(deps: PolicyDeps): Promise<{ block: string; omitted: readonly string[] }> {
  const records = await deps.store.gatewayUpstreams.list();
  const tools = records
    .filter((r) => r.kind === 'mcp')
    .flatMap((r) =>
      mcpServerOf(r).tools.map((t) => ({ id: toolId(r.name, t.name), inputSchema: t.inputSchema })),
    );
  const params = records
    .filter((r) => r.kind === 'http')
    .flatMap((r) => httpApiOf(r).spec.routes)
    .flatMap((route) => {
      const pattern = compilePattern(route.path);
      return typeof pattern === 'string'
        ? []
        : pattern.segments.flatMap((s) => ('param' in s ? [s.param] : []));
    });
  const union = inputUnion(tools);
  return { block: gatewaySchemaBlock(union, params), omitted: union.omitted };
}

/**
 * Keeps the policy model in step with the upstreams after `kind:name` changed:
 * its entities (`McpServer` and `Tool` in it; `Api` and `Route` in it, so
 * grants on a whole server or API cover its tools or routes), and the Cedar
 * schema's gateway block (typed `context.input` from every tool's JSON input
 * schema; route parameters). A schema change that existing policies would not
 * survive (they name an argument that is gone) is refused by the policy engine;
 * the previous schema then stays and the refusal is reported as a warning.
 */
export async function syncPolicyModel(
  deps: PolicyDeps,
  actor: Actor,
  kind: UpstreamKind,
  name: string,
  reason: string,
): Promise<SyncReport> {
  await syncEntities(deps, actor, kind, name, reason);
  let applied = false;
  const warnings: string[] = [];
  // another node may change the upstreams while this one applies: converge, a few times at most
  for (let attempt = 0; attempt < 3; attempt++) {
    const { block, omitted } = await currentBlock(deps);
    const current = await getSchema(deps, actor);
    const text = withGatewayBlock(current.text, block);
    if (attempt === 0) warnings.push(...omitted.map((o) => `policies cannot name ${o}`));
    if (text === current.text) break;
    try {
      applied = (await putSchema(deps, actor, { text, reason })).applied || applied;
    } catch (error) {
      if (!(error instanceof CustosError) || error.code !== 'validation_failed') throw error;
      warnings.push(`the schema keeps its previous tool argument types: ${error.message}`);
      break;
    }
  }
  return { schemaApplied: applied, warnings };
}
