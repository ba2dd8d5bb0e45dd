import { CustosError } from '../../core/index.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { auditEventView } from '../views.js';

export const auditRoutes = [
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
