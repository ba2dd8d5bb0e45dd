import { cedar, type EntityUidJson, type TypeAndId } from './cedar.js';

/** An entity reference: `Type::"id"` in Cedar text, `{ type, id }` in JSON. */
export interface EntityUid {
  readonly type: string;
  readonly id: string;
}

const IDENT = '[_a-zA-Z][_a-zA-Z0-9]*';
const TYPE_NAME = new RegExp(`^${IDENT}(::${IDENT})*$`);
// Cedar's reserved words cannot name a type (nor a namespace segment).
const RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'like', 'has', '__cedar']);

/** True when `type` can name a Cedar entity type (`Agent`, `Todo::user`). */
export function isEntityTypeName(type: string): boolean {
  return TYPE_NAME.test(type) && type.split('::').every((part) => !RESERVED.has(part));
}

/** A Cedar string literal (Cedar's escapes, not JSON's: `\u{1f}` rather than `\u001f`). */
export function cedarString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\u{${code.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

/** The Cedar text of a uid, `Type::"id"`, for people (messages, listings). */
export function uidText(uid: EntityUid): string {
  return `${uid.type}::${cedarString(uid.id)}`;
}

/** Parses Cedar uid text such as `Tool::"github/create_issue"` (with Cedar itself); null when it is not one. */
export function parseUidText(text: string): EntityUid | null {
  if (text.length > 2000 || !/^[^;]*::\s*"/s.test(text)) return null;
  const answer = cedar.policyToJson(`permit (principal, action, resource == ${text});`);
  if (answer.type !== 'success') return null;
  const resource = answer.json.resource;
  if (resource.op !== '==' || !('entity' in resource)) return null;
  const uid = fromUidJson(resource.entity);
  return isEntityTypeName(uid.type) ? uid : null;
}

/** Normalises Cedar's two JSON forms of a uid (`{type,id}` and `{"__entity":{type,id}}`). */
export function fromUidJson(json: EntityUidJson): EntityUid {
  const plain: TypeAndId = '__entity' in json ? json.__entity : json;
  return { type: plain.type, id: plain.id };
}

/** The JSON value of an entity reference inside attributes (explicit, so no schema is needed to read it). */
export const entityRef = (uid: EntityUid): { __entity: { type: string; id: string } } => ({
  __entity: { type: uid.type, id: uid.id },
});

/**
 * The key of a uid in the engine's maps and index (`Type::` + the id as a JSON
 * string). Unlike Cedar text it parses back without Cedar: see {@link parseUidKey}.
 */
export function uidKey(uid: EntityUid): string {
  return `${uid.type}::${JSON.stringify(uid.id)}`;
}

/** The uid of a key made by {@link uidKey}; null when it is not one. */
export function parseUidKey(key: string): EntityUid | null {
  const at = key.indexOf('::"');
  if (at < 1) return null;
  try {
    const id: unknown = JSON.parse(key.slice(at + 2));
    return typeof id === 'string' ? { type: key.slice(0, at), id } : null;
  } catch {
    return null;
  }
}
