import type { Page } from './records.js';

/** Cursors are opaque to clients: the last key of the previous page, base64url-encoded. */
export function encodeCursor(key: string | number): string {
  return Buffer.from(String(key), 'utf8').toString('base64url');
}

/** Returns null for a cursor that was not produced by {@link encodeCursor}. */
export function decodeCursor(cursor: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return null;
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  return encodeCursor(key) === cursor ? key : null;
}

/** Builds a page from `limit + 1` fetched rows: the extra row only says that more exist. */
export function toPage<T>(rows: readonly T[], limit: number, keyOf: (row: T) => string | number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

/** Escapes LIKE wildcards so user text matches literally (used with `ESCAPE '\'`). */
export function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
