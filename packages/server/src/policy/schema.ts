import { cedar, errorText, type SchemaJson } from './cedar.js';
import {
  CONTRACT_ACTIONS,
  CONTRACT_ENTITY_TYPES,
  CORE_SCHEMA,
  DEFAULT_EXTENSION,
} from './platform-schema.js';

/** A Cedar type with common types and `EntityOrCommon` resolved away. */
export type CedarType =
  | { readonly kind: 'String' | 'Long' | 'Boolean' }
  | { readonly kind: 'Set'; readonly element: CedarType }
  | { readonly kind: 'Record'; readonly attributes: ReadonlyMap<string, CedarType> }
  | { readonly kind: 'Entity'; readonly name: string }
  | { readonly kind: 'Extension'; readonly name: string }
  | { readonly kind: 'Unknown' };

export interface ActionInfo {
  readonly principalTypes: readonly string[];
  readonly resourceTypes: readonly string[];
  /** Names of the root-namespace action groups it belongs to. */
  readonly memberOf: readonly string[];
}

/** The platform schema merged with the admin's extension, ready for validation and decisions. */
export interface EffectiveSchema {
  /** The policy version that applied the admin text (0: the platform schema alone). */
  readonly version: number;
  readonly adminText: string;
  readonly json: SchemaJson<string>;
  /** Actions of the root namespace, which AuthZEN `action.name` maps to. */
  readonly actions: ReadonlyMap<string, ActionInfo>;
  /** Attribute and tag types of every entity type, by qualified name. */
  readonly entityTypes: ReadonlyMap<string, { attributes: CedarType; tags: CedarType | null }>;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const EXTENSIONS = new Set(['datetime', 'decimal', 'ipaddr', 'duration']);

/** The result of building a schema: the schema, or the reasons it is refused. */
export type SchemaResult =
  | { readonly ok: true; readonly schema: EffectiveSchema }
  | { readonly ok: false; readonly errors: readonly string[] };

const qualify = (namespace: string, name: string) =>
  name.includes('::') || namespace === '' ? name : `${namespace}::${name}`;

/** Reads the resolved JSON schema into the type maps the engine uses. */
function describe(resolved: Json): Pick<EffectiveSchema, 'actions' | 'entityTypes'> {
  const common = new Map<string, Json>();
  const entityNames = new Set<string>();
  for (const [ns, def] of Object.entries(resolved)) {
    if (!isObject(def)) continue;
    for (const [name, t] of Object.entries((def.commonTypes as Json | undefined) ?? {})) {
      if (isObject(t)) common.set(qualify(ns, name), t);
    }
    for (const name of Object.keys((def.entityTypes as Json | undefined) ?? {}))
      entityNames.add(qualify(ns, name));
  }
  const lookup = (ns: string, name: string) => {
    const local = qualify(ns, name);
    return common.has(local) || entityNames.has(local) ? local : name;
  };
  const typeOf = (ns: string, raw: unknown, depth = 0): CedarType => {
    if (!isObject(raw) || depth > 32) return { kind: 'Unknown' };
    const t = String(raw.type);
    if (t === 'String' || t === 'Long' || t === 'Boolean') return { kind: t };
    if (t === 'Set') return { kind: 'Set', element: typeOf(ns, raw.element, depth + 1) };
    if (t === 'Record') {
      const attributes = new Map<string, CedarType>();
      for (const [k, v] of Object.entries((raw.attributes as Json | undefined) ?? {}))
        attributes.set(k, typeOf(ns, v, depth + 1));
      return { kind: 'Record', attributes };
    }
    if (t === 'Entity') return { kind: 'Entity', name: lookup(ns, String(raw.name)) };
    if (t === 'Extension') return { kind: 'Extension', name: String(raw.name) };
    const name = t === 'EntityOrCommon' ? String(raw.name) : t;
    if (EXTENSIONS.has(name)) return { kind: 'Extension', name };
    const resolvedName = lookup(ns, name);
    const commonType = common.get(resolvedName);
    if (commonType) return typeOf(resolvedName.split('::').slice(0, -1).join('::'), commonType, depth + 1);
    if (entityNames.has(resolvedName)) return { kind: 'Entity', name: resolvedName };
    return { kind: 'Unknown' };
  };
  const entityTypes = new Map<string, { attributes: CedarType; tags: CedarType | null }>();
  const actions = new Map<string, ActionInfo>();
  for (const [ns, def] of Object.entries(resolved)) {
    if (!isObject(def)) continue;
    for (const [name, et] of Object.entries((def.entityTypes as Json | undefined) ?? {})) {
      if (!isObject(et)) continue;
      entityTypes.set(qualify(ns, name), {
        attributes: et.shape === undefined ? { kind: 'Record', attributes: new Map() } : typeOf(ns, et.shape),
        tags: et.tags === undefined ? null : typeOf(ns, et.tags),
      });
    }
    if (ns !== '') continue;
    for (const [name, a] of Object.entries((def.actions as Json | undefined) ?? {})) {
      if (!isObject(a)) continue;
      const applies = isObject(a.appliesTo) ? a.appliesTo : {};
      const names = (list: unknown) => (Array.isArray(list) ? list.map((n) => lookup('', String(n))) : []);
      actions.set(name, {
        principalTypes: names(applies.principalTypes),
        resourceTypes: names(applies.resourceTypes),
        memberOf: Array.isArray(a.memberOf)
          ? a.memberOf.flatMap((m) =>
              isObject(m) && (m.type === undefined || m.type === 'Action') ? [String(m.id)] : [],
            )
          : [],
      });
    }
  }
  return { actions, entityTypes };
}

const parseFailure = (errors: readonly { message: string; help?: string | null }[]) =>
  errors.map((e) => `schema: ${errorText(e)}`);

/** The extension must still declare every contract type and action, compatibly. */
function contractProblems(json: Json): string[] {
  const root = isObject(json['']) ? json[''] : {};
  const entityTypes = (root.entityTypes as Json | undefined) ?? {};
  const actions = (root.actions as Json | undefined) ?? {};
  const problems: string[] = [];
  for (const [name, parent] of Object.entries(CONTRACT_ENTITY_TYPES)) {
    const type = entityTypes[name];
    if (!isObject(type)) problems.push(`entity type \`${name}\` must stay declared`);
    else if (parent && !(Array.isArray(type.memberOfTypes) && type.memberOfTypes.includes(parent)))
      problems.push(`entity type \`${name}\` must stay \`in [${parent}]\``);
  }
  for (const [name, resource] of Object.entries(CONTRACT_ACTIONS)) {
    const action = actions[name];
    const applies = isObject(action) && isObject(action.appliesTo) ? action.appliesTo : null;
    if (!applies) problems.push(`action \`${name}\` must stay declared`);
    else if (
      !(Array.isArray(applies.principalTypes) && applies.principalTypes.includes('Agent')) ||
      !(Array.isArray(applies.resourceTypes) && applies.resourceTypes.includes(resource))
    )
      problems.push(
        `action \`${name}\` must keep applying to principal \`Agent\` and resource \`${resource}\``,
      );
  }
  return problems;
}

function compile(text: string, version: number, adminText: string): SchemaResult {
  const json = cedar.schemaToJson(text);
  if (json.type === 'failure') return { ok: false, errors: parseFailure(json.errors) };
  const resolved = cedar.schemaToJsonWithResolvedTypes(text);
  if (resolved.type === 'failure') return { ok: false, errors: parseFailure(resolved.errors) };
  return {
    ok: true,
    schema: { version, adminText, json: json.json, ...describe(resolved.json as unknown as Json) },
  };
}

/**
 * Builds the effective schema from the admin's extension text (Cedar schema
 * syntax; empty for none). The text is added to the platform schema; when it
 * redeclares a name of the default extension (to type \`tools/call\`'s context,
 * say), it replaces the default extension and must keep every contract type and
 * action. Redeclaring a core type or a \`token:*\` action is refused, as is text
 * that does not parse or resolve.
 */
export function buildSchema(adminText: string, version: number): SchemaResult {
  const added = compile(`${CORE_SCHEMA}\n${DEFAULT_EXTENSION}\n${adminText}`, version, adminText);
  if (added.ok || adminText.trim() === '') return added;
  const replacing = compile(`${CORE_SCHEMA}\n${adminText}`, version, adminText);
  if (!replacing.ok) {
    if (!added.errors.some((e) => e.includes('declared twice'))) return added;
    return {
      ok: false,
      errors: [
        ...added.errors,
        'to change a declaration of the default extension, restate the whole default extension with your change (`custos schema show --default`); core types and `token:*` actions cannot change',
      ],
    };
  }
  const problems = contractProblems(replacing.schema.json as unknown as Json);
  if (problems.length === 0) return replacing;
  return {
    ok: false,
    errors: [
      ...added.errors,
      ...problems.map(
        (p) => `schema redeclares part of the default extension, so it replaces all of it: ${p}`,
      ),
    ],
  };
}

/** The effective schema as Cedar text, for people to read. */
export function schemaText(schema: EffectiveSchema): string {
  const text = cedar.schemaToText(schema.json);
  return text.type === 'success' ? text.text : '';
}
