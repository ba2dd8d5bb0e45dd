import { Type } from '@sinclair/typebox';
import { CustosError } from '../../core/index.js';
import { requireAdmin } from '../../identity/index.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { auditEventView, iso } from '../views.js';

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
      if (actor.role === 'owner')
        throw new CustosError('forbidden', 'owner tokens cannot read the audit log');
      const page = await deps.store.audit.list({
        cursor: query.cursor,
        limit: query.limit ?? 50,
        targetId: query.target,
        action: query.action,
      });
      return { items: page.items.map(auditEventView), nextCursor: page.nextCursor };
    },
  }),
];
