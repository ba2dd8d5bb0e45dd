import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import * as canonicalizeModule from 'canonicalize';
import type { Logger } from 'pino';
import { type Actor, type AuditEntry, auditStatement } from '../audit/index.js';
import type { Clock } from '../core/index.js';
import { claimJtiStatement, type GroupCommitter } from '../storage/index.js';
import { GatewayError } from './gateway-error.js';

// canonicalize is CommonJS: Node's ESM default is its module.exports, the function itself.
const canonicalize = canonicalizeModule.default as unknown as (input: unknown) => string | undefined;

/**
 * `durable`: a decided call is recorded (decision, policies) durably before the
 * upstream is called; no record, no call. `fast`: one record per call, written
 * after it completes without holding the response; calls are refused while
 * records cannot be written.
 */
export type GatewayAuditMode = 'durable' | 'fast';

export interface CallAuditSettings {
  readonly mode: GatewayAuditMode;
  /** Keep call arguments in the audit log (default: only their keyed hash). */
  readonly keepArguments: boolean;
  /** HMAC key of argument hashes (derived from the master key). */
  readonly argumentsKey: Buffer;
}

/** A write failure makes the gateway refuse calls for this long (then it tries again). */
const UNHEALTHY_MS = 2_000;

/**
 * The gateway's audit records, through group commit (one durable commit for
 * many calls). Every call gets one `gateway.call` event with the agent, the
 * user it acts for, the server and tool or API and route, the decision and its
 * policy ids, the upstream status, latency and bytes, and the arguments as a
 * keyed hash. In `durable` mode an allowed call is preceded by a
 * `gateway.authorize` event that must commit before the upstream is called.
 */
export class CallAudit {
  private failedAt = Number.NEGATIVE_INFINITY;
  /** The arguments' HMAC key, imported once (not on every call). */
  private readonly argumentsKey: KeyObject;

  constructor(
    private readonly deps: {
      readonly committer: GroupCommitter;
      readonly clock: Clock;
      readonly logger: Logger;
    },
    readonly settings: CallAuditSettings,
  ) {
    this.argumentsKey = createSecretKey(settings.argumentsKey);
  }

  /** Throws `unavailable` while audit records cannot be written (fail closed). */
  admit(): void {
    if (this.deps.clock.now() - this.failedAt < UNHEALTHY_MS) {
      throw new GatewayError(
        'unavailable',
        'calls cannot be recorded right now, so none are made; try again shortly',
        {
          'retry-after': '2',
        },
      );
    }
  }

  /** The keyed hash of call arguments (HMAC-SHA-256 over their RFC 8785 canonical form). */
  digest(args: unknown): string {
    const text = canonicalize(args ?? null) ?? 'null';
    return `hmac-sha256:${createHmac('sha256', this.argumentsKey).update(text).digest('base64url')}`;
  }

  /** What the record says about the arguments. */
  arguments(args: unknown): Record<string, unknown> {
    return this.settings.keepArguments
      ? { argumentsHash: this.digest(args), arguments: args ?? null }
      : { argumentsHash: this.digest(args) };
  }

  /**
   * `durable` mode: records the authorization and claims the DPoP proof in the
   * database (single use on every node), and resolves once both are durable.
   * Throws `unavailable` if they could not be written, `invalid_dpop_proof` on a replay.
   * The entry is built only then: in `fast` mode nothing of it is on the call's path.
   */
  async authorize(
    actor: Actor,
    entry: () => AuditEntry,
    proof: { key: string; jti: string; expiresAt: number } | null,
  ): Promise<void> {
    if (this.settings.mode !== 'durable') return;
    const statements = [
      ...(proof
        ? [claimJtiStatement(`dpop:${proof.key}`, proof.jti, proof.expiresAt, 'proof_replayed')]
        : []),
      auditStatement(this.deps.clock, actor, entry()),
    ];
    let outcome: Awaited<ReturnType<GroupCommitter['submit']>>;
    try {
      outcome = await this.deps.committer.submit({ statements });
    } catch (error) {
      this.failedAt = this.deps.clock.now();
      this.deps.logger.error({ err: error }, 'could not record a gateway authorization');
      throw new GatewayError(
        'unavailable',
        'the call could not be recorded, so it was not made; try again',
        {},
        { cause: error },
      );
    }
    if (!outcome.ok) throw new GatewayError('invalid_dpop_proof', 'the DPoP proof has already been used');
  }

  /** Records a finished (or refused) call. Never throws; a failure makes {@link admit} refuse for a while. */
  record(actor: Actor, entry: AuditEntry): Promise<void> {
    // nobody waits for it: it may share a batch with the next calls' records
    const unit = { statements: [auditStatement(this.deps.clock, actor, entry)] };
    return this.deps.committer.submit(unit, { linger: true }).then(
      () => undefined,
      (error: unknown) => {
        this.failedAt = this.deps.clock.now();
        this.deps.logger.error({ err: error }, 'could not record a gateway call');
      },
    );
  }
}
