import { type Actor, recordAuditEvent } from '../audit/index.js';
import { type Clock, CustosError, type FieldError, notFound } from '../core/index.js';
import { requireAdmin } from '../identity/index.js';
import type { PolicyEngine } from '../policy/index.js';
import { type Store, UniqueViolation, type UpstreamKind, type UpstreamRecord } from '../storage/index.js';
import type { Gateway } from './gateway.js';
import { type SyncReport, syncPolicyModel } from './policy-sync.js';
import { compilePattern } from './route-pattern.js';
import {
  type CatalogTool,
  type HttpApiSpec,
  type McpServerSpec,
  type RouteSpec,
  secretsOf,
  type UpstreamAuth,
  type UpstreamLimits,
} from './upstream-spec.js';

export interface GatewayOpsDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly engine: PolicyEngine;
  readonly gateway: Gateway;
}

export interface AddMcpServerInput {
  readonly name: string;
  readonly description?: string | undefined;
  readonly transport:
    | { readonly type: 'http'; readonly url: string }
    | {
        readonly type: 'stdio';
        readonly command: string;
        readonly args?: readonly string[] | undefined;
        readonly env?: Readonly<Record<string, string>> | undefined;
        readonly secretEnv?: Readonly<Record<string, string>> | undefined;
        readonly cwd?: string | undefined;
      };
  readonly auth?: UpstreamAuth | undefined;
  readonly limits?: UpstreamLimits | undefined;
}

export interface AddHttpApiInput {
  readonly name: string;
  readonly description?: string | undefined;
  readonly baseUrl: string;
  readonly routes: readonly RouteSpec[];
  readonly auth?: UpstreamAuth | undefined;
  readonly limits?: UpstreamLimits | undefined;
}

/** An upstream, with what keeping the policy model in step reported. */
export interface UpstreamChange {
  readonly record: UpstreamRecord;
  readonly sync: SyncReport;
}

const refuse = (fields: FieldError[]) =>
  new CustosError('validation_failed', fields[0]?.detail ?? 'invalid upstream', { fields });

async function checkSecrets(store: Store, names: readonly string[]): Promise<void> {
  const fields: FieldError[] = [];
  for (const name of new Set(names)) {
    if (!(await store.secrets.get(name)))
      fields.push({
        pointer: '/auth',
        detail: `unknown secret \`${name}\`: store it with \`custos secret set\` first`,
      });
  }
  if (fields.length > 0) throw refuse(fields);
}

function upstreamChanged(kind: UpstreamKind, name: string) {
  return { topic: 'gateway' as const, id: `${kind}:${name}` };
}

function authSummary(auth: UpstreamAuth): Record<string, unknown> {
  switch (auth.type) {
    case 'none':
      return { type: 'none' };
    case 'header':
      return { type: 'header', header: auth.header, secret: auth.secret };
    case 'bearer':
      return { type: 'bearer', secret: auth.secret };
    case 'oauth_client_credentials':
      return {
        type: auth.type,
        tokenUrl: auth.tokenUrl,
        clientId: auth.clientId,
        clientSecret: auth.clientSecret,
      };
  }
}

async function discover(deps: GatewayOpsDeps, name: string, spec: McpServerSpec): Promise<CatalogTool[]> {
  try {
    return await deps.gateway.discover(name, spec);
  } catch (error) {
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new CustosError('validation_failed', `could not list the tools of MCP server \`${name}\`: ${why}`, {
      cause: error,
      fields: [
        { pointer: '/transport', detail: 'the gateway could not reach the server and list its tools' },
      ],
    });
  }
}

/**
 * Registers an MCP server: checks the vault secrets it names exist, connects
 * to it as the gateway would and lists its tools, stores it (with the tool
 * catalog, audited), and extends the policy model (entities and schema).
 */
export async function addMcpServer(
  deps: GatewayOpsDeps,
  actor: Actor,
  input: AddMcpServerInput,
): Promise<UpstreamChange> {
  requireAdmin(actor, 'register MCP servers');
  const transport =
    input.transport.type === 'http'
      ? { type: 'http' as const, url: input.transport.url }
      : {
          type: 'stdio' as const,
          command: input.transport.command,
          args: [...(input.transport.args ?? [])],
          env: { ...(input.transport.env ?? {}) },
          secretEnv: { ...(input.transport.secretEnv ?? {}) },
          ...(input.transport.cwd ? { cwd: input.transport.cwd } : {}),
        };
  const spec: McpServerSpec = { transport, auth: input.auth ?? { type: 'none' }, limits: input.limits ?? {} };
  if (transport.type === 'stdio' && spec.auth.type !== 'none') {
    throw refuse([
      { pointer: '/auth', detail: 'a stdio server gets its credentials through `secretEnv`, not `auth`' },
    ]);
  }
  await checkSecrets(deps.store, secretsOf(spec.auth, spec.transport));
  if (await deps.store.gatewayUpstreams.get('mcp', input.name))
    throw new CustosError('conflict', `MCP server \`${input.name}\` already exists`);
  const tools = await discover(deps, input.name, spec);
  const now = deps.clock.now();
  const record: UpstreamRecord = {
    kind: 'mcp',
    name: input.name,
    description: input.description ?? '',
    spec: spec as unknown as Record<string, unknown>,
    catalog: tools,
    catalogUpdatedAt: now,
    createdBy: actor.id,
    createdAt: now,
    updatedAt: now,
  };
  await deps.store.transaction(async (tx) => {
    try {
      await tx.gatewayUpstreams.insert(record);
    } catch (error) {
      if (error instanceof UniqueViolation)
        throw new CustosError('conflict', `MCP server \`${input.name}\` already exists`);
      throw error;
    }
    await tx.notify(upstreamChanged('mcp', input.name));
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'gateway.server.add',
      target: { type: 'mcp_server', id: input.name },
      details: {
        transport:
          transport.type === 'http'
            ? { type: 'http', url: transport.url }
            : {
                type: 'stdio',
                command: transport.command,
                args: transport.args,
                secretEnv: transport.secretEnv,
              },
        auth: authSummary(spec.auth),
        limits: spec.limits,
        tools: tools.map((t) => t.name),
      },
    });
  });
  const sync = await syncPolicyModel(
    { store: deps.store, clock: deps.clock, engine: deps.engine },
    actor,
    'mcp',
    input.name,
    `MCP server \`${input.name}\` registered`,
  );
  return { record, sync };
}

/** Lists the tools of a registered server again and updates its catalog, entities and schema. */
export async function refreshMcpServer(
  deps: GatewayOpsDeps,
  actor: Actor,
  name: string,
): Promise<UpstreamChange> {
  requireAdmin(actor, 'refresh MCP servers');
  const existing = await deps.store.gatewayUpstreams.get('mcp', name);
  if (!existing) throw notFound('MCP server', name);
  const tools = await discover(deps, name, existing.spec as unknown as McpServerSpec);
  const before = new Set((existing.catalog as CatalogTool[]).map((t) => t.name));
  const after = new Set(tools.map((t) => t.name));
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    if (!(await tx.gatewayUpstreams.setCatalog('mcp', name, tools, now))) throw notFound('MCP server', name);
    await tx.notify(upstreamChanged('mcp', name));
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'gateway.server.refresh',
      target: { type: 'mcp_server', id: name },
      details: {
        added: [...after].filter((t) => !before.has(t)),
        removed: [...before].filter((t) => !after.has(t)),
        tools: tools.length,
      },
    });
  });
  const sync = await syncPolicyModel(
    { store: deps.store, clock: deps.clock, engine: deps.engine },
    actor,
    'mcp',
    name,
    `MCP server \`${name}\` tools refreshed`,
  );
  return { record: { ...existing, catalog: tools, catalogUpdatedAt: now, updatedAt: now }, sync };
}

/** Removes an upstream: its sessions end on every node, its entities go, the schema shrinks (if policies allow). */
export async function removeUpstream(
  deps: GatewayOpsDeps,
  actor: Actor,
  kind: UpstreamKind,
  name: string,
): Promise<SyncReport> {
  requireAdmin(actor, 'remove gateway upstreams');
  const what = kind === 'mcp' ? 'MCP server' : 'API';
  await deps.store.transaction(async (tx) => {
    if (!(await tx.gatewayUpstreams.delete(kind, name))) throw notFound(what, name);
    await tx.notify(upstreamChanged(kind, name));
    await recordAuditEvent(tx, deps.clock, actor, {
      action: kind === 'mcp' ? 'gateway.server.remove' : 'gateway.api.remove',
      target: { type: kind === 'mcp' ? 'mcp_server' : 'api', id: name },
    });
  });
  return syncPolicyModel(
    { store: deps.store, clock: deps.clock, engine: deps.engine },
    actor,
    kind,
    name,
    `${what} \`${name}\` removed`,
  );
}

/** Registers an HTTP API with its routes; each route becomes a `Route` entity in the `Api`. */
export async function addHttpApi(
  deps: GatewayOpsDeps,
  actor: Actor,
  input: AddHttpApiInput,
): Promise<UpstreamChange> {
  requireAdmin(actor, 'register HTTP APIs');
  const fields: FieldError[] = [];
  const seen = new Set<string>();
  input.routes.forEach((route, i) => {
    const compiled = compilePattern(route.path);
    if (typeof compiled === 'string')
      fields.push({
        pointer: `/routes/${i}/path`,
        detail: `route \`${route.method} ${route.path}\`: ${compiled}`,
      });
    const key = `${route.method} ${route.path}`;
    if (seen.has(key)) fields.push({ pointer: `/routes/${i}`, detail: `route \`${key}\` is listed twice` });
    seen.add(key);
  });
  const base = new URL(input.baseUrl);
  if (base.search || base.hash)
    fields.push({ pointer: '/baseUrl', detail: '`baseUrl` must not have a query or fragment' });
  if (fields.length > 0) throw refuse(fields);
  const spec: HttpApiSpec = {
    baseUrl: input.baseUrl.replace(/\/+$/, ''),
    routes: input.routes.map((r) => ({ method: r.method, path: r.path })),
    auth: input.auth ?? { type: 'none' },
    limits: input.limits ?? {},
  };
  await checkSecrets(deps.store, secretsOf(spec.auth));
  const now = deps.clock.now();
  const record: UpstreamRecord = {
    kind: 'http',
    name: input.name,
    description: input.description ?? '',
    spec: spec as unknown as Record<string, unknown>,
    catalog: [],
    catalogUpdatedAt: null,
    createdBy: actor.id,
    createdAt: now,
    updatedAt: now,
  };
  await deps.store.transaction(async (tx) => {
    try {
      await tx.gatewayUpstreams.insert(record);
    } catch (error) {
      if (error instanceof UniqueViolation)
        throw new CustosError('conflict', `API \`${input.name}\` already exists`);
      throw error;
    }
    await tx.notify(upstreamChanged('http', input.name));
    await recordAuditEvent(tx, deps.clock, actor, {
      action: 'gateway.api.add',
      target: { type: 'api', id: input.name },
      details: {
        baseUrl: spec.baseUrl,
        routes: spec.routes.map((r) => `${r.method} ${r.path}`),
        auth: authSummary(spec.auth),
        limits: spec.limits,
      },
    });
  });
  const sync = await syncPolicyModel(
    { store: deps.store, clock: deps.clock, engine: deps.engine },
    actor,
    'http',
    input.name,
    `API \`${input.name}\` registered`,
  );
  return { record, sync };
}

/** The registered upstreams of a kind (admins and auditors). */
export async function listUpstreams(
  deps: { store: Store },
  actor: Actor,
  kind: UpstreamKind,
): Promise<readonly UpstreamRecord[]> {
  if (actor.role !== 'admin' && actor.role !== 'auditor')
    throw new CustosError('forbidden', 'only admin and auditor tokens can read gateway upstreams');
  return deps.store.gatewayUpstreams.list(kind);
}

export async function getUpstream(
  deps: { store: Store },
  actor: Actor,
  kind: UpstreamKind,
  name: string,
): Promise<UpstreamRecord> {
  if (actor.role !== 'admin' && actor.role !== 'auditor')
    throw new CustosError('forbidden', 'only admin and auditor tokens can read gateway upstreams');
  const record = await deps.store.gatewayUpstreams.get(kind, name);
  if (!record) throw notFound(kind === 'mcp' ? 'MCP server' : 'API', name);
  return record;
}
