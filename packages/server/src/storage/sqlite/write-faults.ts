import { resolve } from 'node:path';

/**
 * A storage fault a SQLite database can be put in, for fail-closed tests and
 * drills: `read_only` (`PRAGMA query_only`: every write fails with
 * SQLITE_READONLY) or `disk_full` (`PRAGMA max_page_count` pinned to the current
 * size: every write that needs a new page fails with SQLITE_FULL).
 */
export type SqliteWriteFault = 'read_only' | 'disk_full' | null;

/** The PRAGMA statements that put a write connection in `fault` (or take it out). */
export function faultPragmas(fault: SqliteWriteFault): string[] {
  switch (fault) {
    case 'read_only':
      return ['query_only = 1', 'max_page_count = 4294967294'];
    case 'disk_full':
      // max_page_count cannot go below the current size: asking for 1 pins it there
      return ['query_only = 0', 'max_page_count = 1'];
    default:
      return ['query_only = 0', 'max_page_count = 4294967294'];
  }
}

type Applier = (pragmas: readonly string[]) => Promise<void>;

const current = new Map<string, SqliteWriteFault>();
const appliers = new Map<string, Set<Applier>>();

/** The fault currently injected for the database file at `path` (null: none). */
export function currentFault(path: string): SqliteWriteFault {
  return current.get(resolve(path)) ?? null;
}

/** Called by each driver open on `path`; returns the unregister function. */
export function registerWriteConnections(path: string, apply: Applier): () => void {
  const key = resolve(path);
  let set = appliers.get(key);
  if (!set) {
    set = new Set();
    appliers.set(key, set);
  }
  set.add(apply);
  return () => {
    set.delete(apply);
  };
}

/**
 * Puts every write connection this process holds on the SQLite file at `path`
 * (the driver's writer and its group-commit worker, including ones opened later)
 * in `fault`, or back to normal with `null`. Resolves once all of them apply it.
 */
export async function injectSqliteWriteFault(path: string, fault: SqliteWriteFault): Promise<void> {
  const key = resolve(path);
  if (fault === null) current.delete(key);
  else current.set(key, fault);
  await Promise.all([...(appliers.get(key) ?? [])].map((apply) => apply(faultPragmas(fault))));
}
