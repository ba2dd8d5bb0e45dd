import { Type } from '@sinclair/typebox';
import type { Actor } from '../../audit/index.js';
import { CustosError } from '../../core/index.js';
import {
  type OpenedSession,
  removeUserPassword,
  SignInThrottled,
  setUserPassword,
  signInWithPassword,
  signInWithToken,
  signOut,
} from '../../identity/index.js';
import {
  checkOrigin,
  clearSessionCookie,
  csrfTokenFor,
  sessionOf,
  setSessionCookie,
} from '../console-session.js';
import type { AppDeps } from '../deps.js';
import { defineRoute } from '../route.js';
import * as S from '../schemas.js';
import { iso, userView } from '../views.js';

const ConsoleRole = Type.Union([Type.Literal('admin'), Type.Literal('auditor'), Type.Literal('owner')]);

const SignIn = Type.Object(
  {
    token: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'an admin token `cst_pat_…`' }),
    ),
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 254, description: 'same as `email`' })),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  },
  { additionalProperties: false, description: 'either `token`, or `email` (or `username`) and `password`' },
);

const SessionView = Type.Object({
  method: Type.Union([Type.Literal('token'), Type.Literal('password'), Type.Literal('bearer')]),
  actor: Type.Object({
    type: Type.String(),
    id: Type.String(),
    role: Type.String(),
    userId: Type.Union([Type.String(), Type.Null()]),
  }),
  user: Type.Union([S.User, Type.Null()]),
  expiresAt: Type.Union([S.Timestamp, Type.Null()]),
  csrfToken: Type.Union([
    Type.String({ description: 'send it back in `x-csrf-token` on every request that changes something' }),
    Type.Null(),
  ]),
});

async function sessionView(
  deps: AppDeps,
  actor: Actor,
  method: 'token' | 'password' | 'bearer',
  expiresAt: number | null,
  csrfToken: string | null,
) {
  const user = actor.userId ? await deps.store.users.get(actor.userId) : null;
  return {
    method,
    actor: { type: actor.type, id: actor.id, role: actor.role, userId: actor.userId },
    user: user ? userView(user) : null,
    expiresAt: expiresAt === null ? null : iso(expiresAt),
    csrfToken,
  };
}

export const sessionRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/session',
    operationId: 'signIn',
    summary: 'Sign in to the console with an admin token or an email and password; sets the session cookie',
    tag: 'session',
    access: 'public',
    status: 201,
    body: SignIn,
    response: SessionView,
    handler: async ({ deps, body, reply, requestId }) => {
      const request = reply.request;
      checkOrigin(deps, request);
      const client = {
        address: request.ip,
        userAgent: String(request.headers['user-agent'] ?? ''),
        requestId,
      };
      const login = body.email ?? body.username;
      let opened: OpenedSession;
      try {
        if (body.token !== undefined && login === undefined && body.password === undefined) {
          opened = await signInWithToken(deps, body.token, client);
        } else if (body.token === undefined && login !== undefined && body.password !== undefined) {
          opened = await signInWithPassword(deps, login, body.password, client);
        } else {
          throw new CustosError(
            'validation_failed',
            'give either `token`, or `email` (or `username`) and `password`',
            { fields: [{ pointer: '/', detail: 'give either `token`, or `email` and `password`' }] },
          );
        }
      } catch (error) {
        if (error instanceof SignInThrottled) reply.header('retry-after', String(error.retryAfterSeconds));
        throw error;
      }
      setSessionCookie(deps, reply, opened.sessionId);
      return sessionView(
        deps,
        opened.actor,
        opened.method,
        opened.expiresAt,
        csrfTokenFor(deps, opened.sessionId),
      );
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/session',
    operationId: 'getSession',
    summary: 'Who am I: the signed-in principal (console session or bearer token)',
    tag: 'session',
    access: 'authenticated',
    response: SessionView,
    handler: async ({ deps, actor, reply }) => {
      const session = sessionOf(reply.request);
      if (!session) return sessionView(deps, actor, 'bearer', null, null);
      return sessionView(
        deps,
        actor,
        session.resolved.session.method,
        session.resolved.session.expiresAt,
        csrfTokenFor(deps, session.id),
      );
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/session',
    operationId: 'signOut',
    summary: 'Sign out: ends the console session and clears its cookie',
    tag: 'session',
    access: 'authenticated',
    status: 204,
    handler: async ({ deps, actor, reply }) => {
      const session = sessionOf(reply.request);
      if (!session) {
        throw new CustosError(
          'not_found',
          'no console session: this request was authenticated by a bearer token',
        );
      }
      await signOut(deps, actor, session.resolved.session);
      clearSessionCookie(deps, reply);
      return null;
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/users/{id}/password',
    operationId: 'setUserPassword',
    summary: 'Set a console password and role for a human (admin); ends their console sessions',
    tag: 'users',
    access: 'authenticated',
    params: S.UserParams,
    body: Type.Object(
      {
        password: Type.String({
          minLength: 1,
          maxLength: 4096,
          description: 'write-only; at least 12 characters',
        }),
        role: Type.Optional(ConsoleRole),
      },
      { additionalProperties: false },
    ),
    response: Type.Object({ userId: S.Id('usr'), role: ConsoleRole, updatedAt: S.Timestamp }),
    handler: async ({ deps, actor, params, body }) => {
      const result = await setUserPassword(deps, actor, params.id, body);
      return { userId: result.userId, role: result.role, updatedAt: iso(result.updatedAt) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/users/{id}/password',
    operationId: 'removeUserPassword',
    summary: 'Remove a human’s console password (admin); ends their console sessions',
    tag: 'users',
    access: 'authenticated',
    status: 204,
    params: S.UserParams,
    handler: async ({ deps, actor, params }) => {
      await removeUserPassword(deps, actor, params.id);
      return null;
    },
  }),
];
