import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import {
  type CheckpointClaim,
  csvHeader,
  type ExportFormat,
  openCheckpoint,
  parseVerifierKey,
  readAllEvents,
  toAuditView,
  toCsvRow,
  toJsonLine,
  toOcsf,
  verifyChain,
} from '../../audit/index.js';
import { CustosError } from '../../core/index.js';
import type { AuditFilter } from '../../storage/index.js';
import type { AppDeps } from '../deps.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { parseTimestamp } from '../views.js';

/**
 * The audit log's export and online verification over HTTP, for the web
 * console (a browser cannot run `custos audit export|verify`). Same formats and
 * the same checks as the CLI, which remains the way to verify independently
 * (offline, with a key recorded elsewhere).
 */

// The product version OCSF records carry (read here: importing start-server would be a cycle).
const VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const readersOnly = (role: string) => {
  if (role === 'owner') throw new CustosError('forbidden', 'owner tokens cannot read the audit log');
};

const { cursor: _cursor, limit: _limit, ...filterFields } = S.AuditQuery.properties;
const ExportQuery = Type.Object(
  {
    ...filterFields,
    format: Type.Optional(
      Type.Union([Type.Literal('jsonl'), Type.Literal('csv'), Type.Literal('ocsf')], {
        description: '`jsonl` (default, verifiable offline), `csv` or `ocsf` (OCSF 1.3 JSON lines)',
      }),
    ),
  },
  { additionalProperties: false },
);

const MEDIA: Readonly<Record<ExportFormat, { type: string; ext: string }>> = {
  jsonl: { type: 'application/x-ndjson; charset=utf-8', ext: 'jsonl' },
  csv: { type: 'text/csv; charset=utf-8', ext: 'csv' },
  ocsf: { type: 'application/x-ndjson; charset=utf-8', ext: 'ocsf.jsonl' },
};

async function userId(deps: AppDeps, ref: string | undefined): Promise<string | undefined> {
  if (ref === undefined || !ref.includes('@')) return ref;
  const user = await deps.store.users.getByEmail(ref);
  if (!user) {
    throw new CustosError('validation_failed', `unknown user \`${ref}\``, {
      fields: [{ pointer: '/user', detail: `unknown user \`${ref}\`` }],
    });
  }
  return user.id;
}

/** Every matching event, page by page, as lines of the format. */
async function* lines(deps: AppDeps, filter: Omit<AuditFilter, 'limit' | 'cursor'>, format: ExportFormat) {
  if (format === 'csv') yield `${csvHeader()}\r\n`;
  let cursor: string | undefined;
  do {
    const page = await deps.store.audit.list({ ...filter, limit: 500, cursor });
    let chunk = '';
    for (const record of page.items) {
      const e = toAuditView(record);
      if (format === 'csv') chunk += `${toCsvRow(e)}\r\n`;
      else if (format === 'ocsf') chunk += `${JSON.stringify(toOcsf(e, VERSION))}\n`;
      else chunk += `${toJsonLine(e)}\n`;
    }
    if (chunk) yield chunk;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

export const auditExportRoutes = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/export',
    operationId: 'exportAuditEvents',
    summary: 'Every matching audit event as a download: JSON lines, CSV or OCSF (admin or auditor)',
    tag: 'audit',
    access: 'authenticated',
    query: ExportQuery,
    handler: async ({ deps, actor, query, reply }) => {
      readersOnly(actor.role);
      const format = query.format ?? 'jsonl';
      const filter = {
        targetId: query.target,
        action: query.action,
        from: query.from === undefined ? undefined : parseTimestamp(query.from, 'from'),
        to: query.to === undefined ? undefined : parseTimestamp(query.to, 'to'),
        agentId: query.agent,
        userId: await userId(deps, query.user),
        actorId: query.actor,
        actorType: query.actorType,
        outcome: query.outcome,
        q: query.q,
        afterSeq: query.after,
        order: query.order,
      };
      const stamp = new Date(deps.clock.now()).toISOString().replace(/[:.]/g, '-');
      reply
        .type(MEDIA[format].type)
        .header('content-disposition', `attachment; filename="custos-audit-${stamp}.${MEDIA[format].ext}"`);
      return Readable.from(lines(deps, filter, format));
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/verify',
    operationId: 'verifyAuditChain',
    summary:
      'Verify the whole chain now: every hash and link, and every signed checkpoint with the audit key (admin or auditor)',
    tag: 'audit',
    access: 'authenticated',
    response: Type.Object({
      ok: Type.Boolean(),
      checked: Type.Integer(),
      lastSeq: Type.Integer(),
      checkpointsChecked: Type.Integer(),
      badCheckpointSignatures: Type.Integer(),
      prunedThrough: Type.Optional(Type.Integer()),
      problem: Type.Optional(
        Type.Object({ seq: Type.Integer(), kind: Type.String(), detail: Type.String() }),
      ),
    }),
    handler: async ({ deps, actor }) => {
      readersOnly(actor.role);
      const key = parseVerifierKey(deps.audit.key.vkey);
      if (!key) throw new Error('INVARIANT: the audit key has a valid verifier key');
      const claims: CheckpointClaim[] = [];
      let bad = 0;
      for (const c of await deps.store.auditLog.listCheckpoints(0)) {
        const opened = openCheckpoint(c.note, key);
        if (opened) claims.push({ size: opened.size, hash: opened.hash });
        else bad++;
      }
      const report = await verifyChain(readAllEvents(deps.store), claims);
      return { ...report, ok: report.ok && bad === 0, badCheckpointSignatures: bad };
    },
  }),
];
