import { Type } from '@sinclair/typebox';
import { pruneAuditLog } from '../../audit/index.js';
import { CustosError } from '../../core/index.js';
import { requireAdmin } from '../../identity/index.js';
import type { AppDeps } from '../deps.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { auditEventView, iso, parseTimestamp } from '../views.js';

/** A user filter given as an email becomes the user's id (an unknown email is a validation error). */
async function userFilter(deps: AppDeps, ref: string | undefined): Promise<string | undefined> {
  if (ref === undefined || !ref.includes('@')) return ref;
  const user = await deps.store.users.getByEmail(ref);
  if (!user) {
    throw new CustosError('validation_failed', `unknown user \`${ref}\``, {
      fields: [{ pointer: '/user', detail: `unknown user \`${ref}\`` }],
    });
  }
  return user.id;
}

const readersOnly = (role: string) => {
  if (role === 'owner') throw new CustosError('forbidden', 'owner tokens cannot read the audit log');
};

export const auditRoutes = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/key',
    operationId: 'getAuditKey',
    summary: 'The audit public key that signs checkpoints (anyone may verify)',
    tag: 'audit',
    access: 'public',
    response: S.AuditKey,
    handler: async ({ deps }) => ({
      name: deps.audit.key.name,
      publicKey: deps.audit.key.publicKey.toString('base64'),
      vkey: deps.audit.key.vkey,
    }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/checkpoints',
    operationId: 'listAuditCheckpoints',
    summary: 'Signed checkpoints over the audit chain, oldest first (admin or auditor)',
    tag: 'audit',
    access: 'authenticated',
    query: Type.Object(
      { after: Type.Optional(Type.Integer({ minimum: 0 })) },
      { additionalProperties: false },
    ),
    response: Type.Object({ items: Type.Array(S.AuditCheckpoint) }),
    handler: async ({ deps, actor, query }) => {
      readersOnly(actor.role);
      const items = await deps.store.auditLog.listCheckpoints(query.after ?? 0);
      return { items: items.map((c) => ({ size: c.size, hash: c.hash, at: iso(c.at), note: c.note })) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/audit/checkpoints',
    operationId: 'createAuditCheckpoint',
    summary: 'Sign a checkpoint now over everything appended so far (admin)',
    tag: 'audit',
    access: 'authenticated',
    status: 201,
    body: Type.Object({}, { additionalProperties: false }),
    bodyOptional: true,
    response: S.AuditCheckpoint,
    handler: async ({ deps, actor }) => {
      requireAdmin(actor, 'create audit checkpoints');
      await deps.audit.checkpointer.tick(true);
      const latest = await deps.store.auditLog.latestCheckpoint();
      if (!latest) throw new CustosError('conflict', 'the audit log is empty: nothing to checkpoint');
      return { size: latest.size, hash: latest.hash, at: iso(latest.at), note: latest.note };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/events',
    operationId: 'listAuditEvents',
    summary: 'Audit events, oldest first (admin or auditor)',
    tag: 'audit',
    access: 'authenticated',
    query: S.AuditQuery,
    response: S.Page(S.AuditEvent),
    handler: async ({ deps, actor, query }) => {
      readersOnly(actor.role);
      const page = await deps.store.audit.list({
        cursor: query.cursor,
        limit: query.limit ?? 50,
        targetId: query.target,
        action: query.action,
        from: query.from === undefined ? undefined : parseTimestamp(query.from, 'from'),
        to: query.to === undefined ? undefined : parseTimestamp(query.to, 'to'),
        agentId: query.agent,
        userId: await userFilter(deps, query.user),
        actorId: query.actor,
        actorType: query.actorType,
        outcome: query.outcome,
        q: query.q,
        afterSeq: query.after,
        order: query.order,
      });
      return { items: page.items.map(auditEventView), nextCursor: page.nextCursor };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/head',
    operationId: 'getAuditHead',
    summary: 'The chain head: the last sequence number and its hash (admin or auditor)',
    tag: 'audit',
    access: 'authenticated',
    response: S.AuditHead,
    handler: async ({ deps, actor }) => {
      readersOnly(actor.role);
      const head = await deps.store.auditLog.head();
      return { seq: head.seq, hash: head.hash, firstSeq: await deps.store.auditLog.firstSeq() };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/sinks',
    operationId: 'listAuditSinks',
    summary: 'Live-forwarding sinks and how far each has been acknowledged (admin or auditor)',
    tag: 'audit',
    access: 'authenticated',
    response: Type.Object({ items: Type.Array(S.AuditSink) }),
    handler: async ({ deps, actor }) => {
      readersOnly(actor.role);
      const head = await deps.store.auditLog.head();
      const sinks = await deps.store.auditLog.listSinks();
      return {
        items: sinks.map((s) => ({
          name: s.name,
          cursor: s.cursor,
          lag: Math.max(0, head.seq - s.cursor),
          lastError: s.lastError,
          updatedAt: iso(s.updatedAt),
        })),
      };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/audit/prune',
    operationId: 'pruneAuditLog',
    summary:
      'Retention: archive and delete the oldest events before a time, in whole checkpointed segments (admin)',
    tag: 'audit',
    access: 'authenticated',
    body: S.AuditPruneBody,
    response: S.AuditPruneResult,
    handler: async ({ deps, actor, body }) => {
      requireAdmin(actor, 'prune the audit log');
      const before = parseTimestamp(body.before, 'before');
      if (before > deps.clock.now()) {
        throw new CustosError('validation_failed', '`before` must not be in the future', {
          fields: [{ pointer: '/before', detail: '`before` must not be in the future' }],
        });
      }
      const result = await pruneAuditLog(
        { store: deps.store, clock: deps.clock, archiveDir: deps.config.auditArchiveDir },
        actor,
        { before, reason: body.reason },
      );
      return { ...result, checkpoint: result.checkpoint.note };
    },
  }),
];
