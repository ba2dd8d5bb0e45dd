import { cedar } from './cedar.js';
import type { Member } from './compiled-set.js';

/**
 * The members of `context` some policies can read: the names of the top-level
 * attributes they reach through `context.x`, `context["x"]` or `context has x`,
 * or `'all'` when one uses `context` otherwise (compares it, puts it in a
 * record…) or could not be read.
 */
export type ContextUse = ReadonlySet<string> | 'all';

const NONE: ContextUse = new Set<string>();
const byText = new Map<string, ContextUse>();
const MAX_CACHED = 10_000;

function isContextVar(node: unknown): boolean {
  return (
    typeof node === 'object' &&
    node !== null &&
    !Array.isArray(node) &&
    (node as { Var?: unknown }).Var === 'context'
  );
}

/**
 * Walks a policy in Cedar's JSON form (EST). Records the attribute of every
 * `{".": {left: context, attr}}` and `{"has": {left: context, attr}}` (a `has`
 * path's first name); any other `{"Var": "context"}` means the whole context.
 */
function walk(node: unknown, found: Set<string>): boolean {
  if (Array.isArray(node)) {
    for (const item of node) if (!walk(item, found)) return false;
    return true;
  }
  if (typeof node !== 'object' || node === null) return true;
  if (isContextVar(node)) return false;
  for (const [key, value] of Object.entries(node)) {
    if ((key === '.' || key === 'has') && typeof value === 'object' && value !== null) {
      const { left, attr } = value as { left?: unknown; attr?: unknown };
      if (isContextVar(left)) {
        const first = Array.isArray(attr) ? attr[0] : attr;
        if (typeof first !== 'string') return false;
        found.add(first);
        continue;
      }
    }
    if (!walk(value, found)) return false;
  }
  return true;
}

/** What of `context` one policy (or template) can read, from its text. */
function useOfText(text: string, template: boolean): ContextUse {
  const key = `${template ? 't' : 's'}${text}`;
  let use = byText.get(key);
  if (use === undefined) {
    const answer = template ? cedar.templateToJson(text) : cedar.policyToJson(text);
    if (answer.type === 'failure') use = 'all';
    else {
      const found = new Set<string>();
      use = walk(answer.json.conditions, found) ? (found.size === 0 ? NONE : found) : 'all';
    }
    if (byText.size >= MAX_CACHED) byText.clear();
    byText.set(key, use);
  }
  return use;
}

/** What of `context` any of these members can read (the scope of a policy never reads it). */
export function contextUseOf(members: readonly Member[]): ContextUse {
  const all = new Set<string>();
  for (const m of members) {
    const use = m.kind === 'static' ? useOfText(m.text, false) : useOfText(m.templateText, true);
    if (use === 'all') return 'all';
    for (const name of use) all.add(name);
  }
  return all;
}
