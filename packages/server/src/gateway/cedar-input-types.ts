/**
 * Tool arguments as Cedar types, so policies on `context.input.<argument>` are
 * validated against the tools' real argument types (DESIGN.md §5).
 *
 * Cedar types a request context per action, not per resource, so `tools/call`
 * gets one `ToolInput` record: the union of the arguments of every registered
 * tool. A policy naming an argument no tool has, or comparing an argument with
 * a value of the wrong type, is refused by the validator. An argument two tools
 * type differently is left out (policies cannot name it) and reported.
 *
 * Every argument is declared present. At decision time only the arguments of
 * the call are passed, so reading one the call does not have is an evaluation
 * error, and evaluation errors deny: guard optional arguments with `has`.
 */

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const MAX_DEPTH = 8;
/** Attribute names are quoted in the schema: anything printable but `"` and `\` is fine. */
function usableName(name: string): boolean {
  if (name.length === 0 || name.length > 128) return false;
  for (const ch of name) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f || ch === '"' || ch === '\\') return false;
  }
  return true;
}

/** The Cedar schema type of a JSON Schema, or null when it has none (free-form objects, unions, `$ref`). */
export function cedarTypeOf(schema: unknown, depth = 0): string | null {
  if (!isObject(schema) || depth > MAX_DEPTH) return null;
  const alternatives = (schema.anyOf ?? schema.oneOf) as unknown;
  if (Array.isArray(alternatives)) {
    const types = alternatives
      .filter((a) => !(isObject(a) && a.type === 'null'))
      .map((a) => cedarTypeOf(a, depth + 1));
    const first = types[0];
    return first && types.every((t) => t === first) ? first : null;
  }
  let type = schema.type;
  if (Array.isArray(type)) {
    const nonNull = type.filter((t) => t !== 'null');
    type = nonNull.length === 1 ? nonNull[0] : undefined;
  }
  const sample = Array.isArray(schema.enum) ? schema.enum : 'const' in schema ? [schema.const] : null;
  if (type === undefined && sample && sample.length > 0) {
    if (sample.every((v) => typeof v === 'string')) return 'String';
    if (sample.every((v) => Number.isSafeInteger(v))) return 'Long';
    if (sample.every((v) => typeof v === 'boolean')) return 'Bool';
    return null;
  }
  if (type === undefined && isObject(schema.properties)) type = 'object';
  switch (type) {
    case 'string':
      return 'String';
    case 'integer':
    case 'number':
      return 'Long';
    case 'boolean':
      return 'Bool';
    case 'array': {
      const element = cedarTypeOf(schema.items, depth + 1);
      return element ? `Set<${element}>` : null;
    }
    case 'object': {
      if (!isObject(schema.properties)) return null;
      const attributes = recordAttributes(schema.properties, depth + 1);
      return `{ ${[...attributes].map(([name, t]) => `${JSON.stringify(name)}: ${t}`).join(', ')} }`;
    }
    default:
      return null;
  }
}

function recordAttributes(properties: Json, depth: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, property] of Object.entries(properties)) {
    if (!usableName(name)) continue;
    const type = cedarTypeOf(property, depth);
    if (type) out.set(name, type);
  }
  return out;
}

export interface InputUnion {
  /** Attribute → Cedar type, sorted by name. */
  readonly attributes: ReadonlyMap<string, string>;
  /** Arguments left out, with why (typed differently by two tools, or untypeable). */
  readonly omitted: readonly string[];
}

/** The union of the arguments of `tools` (`id` names the tool in messages). */
export function inputUnion(
  tools: readonly { readonly id: string; readonly inputSchema: Readonly<Record<string, unknown>> }[],
): InputUnion {
  const types = new Map<string, { type: string; tool: string }>();
  const conflicts = new Map<string, string>();
  const omitted: string[] = [];
  for (const tool of tools) {
    const properties = isObject(tool.inputSchema.properties) ? tool.inputSchema.properties : {};
    for (const [name, property] of Object.entries(properties)) {
      if (!usableName(name)) {
        omitted.push(`argument \`${name}\` of \`${tool.id}\`: the name cannot be used in a policy`);
        continue;
      }
      const type = cedarTypeOf(property, 1);
      if (!type) {
        omitted.push(`argument \`${name}\` of \`${tool.id}\`: its JSON Schema has no Cedar type`);
        continue;
      }
      const seen = types.get(name);
      if (!seen) types.set(name, { type, tool: tool.id });
      else if (seen.type !== type && !conflicts.has(name))
        conflicts.set(
          name,
          `argument \`${name}\` is \`${seen.type}\` in \`${seen.tool}\` but \`${type}\` in \`${tool.id}\``,
        );
    }
  }
  for (const [name, why] of conflicts) {
    types.delete(name);
    omitted.push(why);
  }
  const attributes = new Map([...types].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.type]));
  return { attributes, omitted };
}

export const BLOCK_BEGIN =
  '// BEGIN custos gateway (generated from the registered upstreams; edits here are replaced)';
export const BLOCK_END = '// END custos gateway';

const record = (attributes: ReadonlyMap<string, string>) =>
  `{ ${[...attributes].map(([name, t]) => `${JSON.stringify(name)}: ${t}`).join(', ')} }`;

/**
 * The gateway's part of the Cedar schema: the default extension restated with
 * typed contexts (it replaces the default extension, keeping every contract
 * name), `ToolInput` from the MCP servers' tools and `RouteParams` from the
 * HTTP APIs' route parameters.
 */
export function gatewaySchemaBlock(input: InputUnion, routeParams: readonly string[]): string {
  const params = new Map([...new Set(routeParams)].sort().map((p) => [p, 'String']));
  const common =
    'session: GatewayCounters, sourceAddress: ipaddr, now: datetime, onBehalfOf?: User, delegation?: Delegation, approved: Bool';
  return [
    BLOCK_BEGIN,
    'entity McpServer;',
    'entity Tool in [McpServer];',
    'entity Api;',
    'entity Route in [Api];',
    '// calls: in this MCP session (HTTP: with this access token); callsLastHour: by this agent through this node;',
    '// resourceCallsLastHour: of this same tool or route by this agent through this node',
    'type GatewayCounters = { calls: Long, callsLastHour: Long, resourceCallsLastHour: Long };',
    `type ToolInput = ${record(input.attributes)};`,
    `type RouteParams = ${record(params)};`,
    `action "tools/call" appliesTo { principal: [Agent, User], resource: [Tool], context: { input: ToolInput, server: String, tool: String, ${common} } };`,
    `action "resources/read" appliesTo { principal: [Agent, User], resource: [McpServer], context: { uri: String, server: String, ${common} } };`,
    `action "prompts/get" appliesTo { principal: [Agent, User], resource: [McpServer], context: { name: String, server: String, ${common} } };`,
    `action "http:GET", "http:HEAD", "http:POST", "http:PUT", "http:PATCH", "http:DELETE" appliesTo { principal: [Agent, User], resource: [Route], context: { api: String, path: String, params: RouteParams, ${common} } };`,
    BLOCK_END,
  ].join('\n');
}

/** The admin's schema text with the gateway block replaced by `block` (added at the end when absent). */
export function withGatewayBlock(adminText: string, block: string): string {
  const start = adminText.indexOf(BLOCK_BEGIN);
  const end = adminText.indexOf(BLOCK_END);
  const rest =
    start >= 0 && end > start
      ? `${adminText.slice(0, start)}${adminText.slice(end + BLOCK_END.length)}`
      : adminText;
  const trimmed = rest.replace(/\n{3,}/g, '\n\n').trim();
  return trimmed === '' ? `${block}\n` : `${trimmed}\n\n${block}\n`;
}
