import type { AuditEventRecord, Repositories } from '../storage/index.js';

/** Every audit event, in sequence order, read page by page. */
export async function* readAllEvents(
  repos: Pick<Repositories, 'audit'>,
  pageSize = 500,
): AsyncGenerator<AuditEventRecord> {
  let cursor: string | undefined;
  do {
    const page = await repos.audit.list({ limit: pageSize, cursor });
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}
