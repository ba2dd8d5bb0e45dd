import type { Static, TSchema } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import type { Actor } from '../audit/index.js';
import type { AppDeps } from './deps.js';

/** Who may call a route: anyone, or an authenticated admin token of any role. */
export type RouteAccess = 'public' | 'authenticated';

export interface RouteContext<B, Q, P> {
  readonly deps: AppDeps;
  readonly actor: Actor;
  readonly body: B;
  readonly query: Q;
  readonly params: P;
  readonly requestId: string;
  readonly reply: FastifyReply;
}

/**
 * One API operation: its path (OpenAPI `{param}` style), its schemas (which both
 * validate requests and generate the OpenAPI document) and its handler. The
 * handler returns the response body; `status` is the success status.
 */
export interface RouteDef<
  B extends TSchema = TSchema,
  Q extends TSchema = TSchema,
  P extends TSchema = TSchema,
> {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly tag: string;
  readonly access: RouteAccess;
  readonly status?: number;
  readonly body?: B;
  /** Largest body this route accepts, in bytes, when more than the server-wide limit (policy sets). */
  readonly bodyLimit?: number;
  /** A request without a body is treated as `{}` (for bodies whose fields are all optional). */
  readonly bodyOptional?: boolean;
  readonly query?: Q;
  readonly params?: P;
  readonly response?: TSchema;
  handler(ctx: RouteContext<Static<B>, Static<Q>, Static<P>>): Promise<unknown>;
}

/** Identity function that lets TypeScript infer the handler's argument types from the schemas. */
export function defineRoute<B extends TSchema, Q extends TSchema, P extends TSchema>(
  def: RouteDef<B, Q, P>,
): RouteDef {
  return def as unknown as RouteDef;
}
