/**
 * Path patterns of HTTP API routes: literal segments, `{name}` for exactly one
 * segment, and a final `{name*}` for the rest of the path (one or more segments).
 * Matching works on the percent-encoded path, segment by segment, so an
 * encoded `/` (`%2F`) never splits a segment and `..` segments are refused.
 */
export interface CompiledPattern {
  readonly pattern: string;
  readonly segments: readonly ({ literal: string } | { param: string; rest: boolean })[];
  /** Patterns with more literal segments are tried first. */
  readonly specificity: number;
}

const PARAM = /^\{([A-Za-z_][A-Za-z0-9_]*)(\*)?\}$/;
const LITERAL = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%]+$/;

/** Parses a pattern; returns the reason when it is not one. */
export function compilePattern(pattern: string): CompiledPattern | string {
  if (!pattern.startsWith('/')) return 'a route path must start with `/`';
  if (pattern.length > 500) return 'a route path must be at most 500 characters';
  const raw = pattern === '/' ? [] : pattern.slice(1).split('/');
  const segments: CompiledPattern['segments'][number][] = [];
  const names = new Set<string>();
  for (const [i, segment] of raw.entries()) {
    const param = PARAM.exec(segment);
    if (param) {
      const name = param[1] as string;
      if (names.has(name)) return `parameter \`${name}\` appears twice`;
      names.add(name);
      const rest = param[2] === '*';
      if (rest && i !== raw.length - 1) return `\`{${name}*}\` must be the last segment`;
      segments.push({ param: name, rest });
    } else if (segment === '' || segment === '.' || segment === '..' || !LITERAL.test(segment)) {
      return `invalid path segment \`${segment}\``;
    } else segments.push({ literal: segment });
  }
  return { pattern, segments, specificity: segments.filter((s) => 'literal' in s).length };
}

/** Matches an encoded request path; returns the decoded parameters, or null. */
export function matchPattern(compiled: CompiledPattern, path: string): Record<string, string> | null {
  const parts = path === '/' ? [] : path.slice(1).split('/');
  const params: Record<string, string> = {};
  for (const [i, segment] of compiled.segments.entries()) {
    if ('literal' in segment) {
      if (parts[i] !== segment.literal) return null;
      continue;
    }
    if (segment.rest) {
      const rest = parts.slice(i);
      if (rest.length === 0 || rest.some((p) => p === '')) return null;
      const decoded = rest.map(safeDecode);
      if (decoded.some((p) => p === null || p === '.' || p === '..' || p.includes('/'))) return null;
      params[segment.param] = decoded.join('/');
      return params;
    }
    const value = parts[i] === undefined || parts[i] === '' ? null : safeDecode(parts[i] as string);
    if (value === null || value === '.' || value === '..' || value.includes('/')) return null;
    params[segment.param] = value;
  }
  return parts.length === compiled.segments.length ? params : null;
}

function safeDecode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}
