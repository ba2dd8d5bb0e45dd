import { appendFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Clock } from '../core/index.js';
import type { Store } from '../storage/index.js';
import type { AuditKey } from './audit-key.js';
import { signCheckpoint } from './signed-note.js';

export interface CheckpointSettings {
  readonly origin: string;
  /** Make a checkpoint once this many events were appended since the last one. */
  readonly everyEvents: number;
  /** …or once this long has passed with any new event. */
  readonly intervalMs: number;
  /** Append every signed checkpoint to this file (outside the database). */
  readonly file: string | null;
  /** POST every signed checkpoint (text/plain) to this URL. */
  readonly webhook: string | null;
}

/**
 * Signs checkpoints over the audit chain and copies them outside the database
 * (a file and/or a webhook), so deleting the tail or rewriting the whole chain
 * is detectable by anyone holding the copies and the audit public key.
 * A checkpoint is stored first, then sunk; unsunk checkpoints are retried on
 * every tick, across restarts (the store remembers what was confirmed).
 */
export class Checkpointer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly deps: { store: Store; clock: Clock; logger: Logger; fetch?: typeof fetch },
    private readonly key: AuditKey,
    private readonly settings: CheckpointSettings,
  ) {}

  start(): void {
    const every = Math.min(1000, this.settings.intervalMs);
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One round: checkpoint if due, then sink whatever is unsunk. Never throws. */
  tick(force = false): Promise<void> {
    this.running ??= this.round(force)
      .catch((error: unknown) => this.deps.logger.error({ err: error }, 'audit checkpoint round failed'))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async round(force: boolean): Promise<void> {
    const head = await this.deps.store.auditLog.head();
    const latest = await this.deps.store.auditLog.latestCheckpoint();
    const now = this.deps.clock.now();
    const since = head.seq - (latest?.size ?? 0);
    if (
      since > 0 &&
      (force || since >= this.settings.everyEvents || now - (latest?.at ?? 0) >= this.settings.intervalMs)
    ) {
      const note = signCheckpoint(
        { origin: this.settings.origin, size: head.seq, hash: head.hash },
        this.key.name,
        this.key.privateKey,
        this.key.publicKey,
      );
      await this.deps.store.auditLog.insertCheckpoint({ size: head.seq, hash: head.hash, at: now, note });
    }
    for (const checkpoint of await this.deps.store.auditLog.unsunkCheckpoints()) {
      await this.sink(checkpoint.note);
      await this.deps.store.auditLog.markSunk(checkpoint.size, this.deps.clock.now());
    }
  }

  private async sink(note: string): Promise<void> {
    if (this.settings.file) await appendFile(this.settings.file, `${note}\n`, { mode: 0o600 });
    if (this.settings.webhook) {
      const response = await (this.deps.fetch ?? fetch)(this.settings.webhook, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: note,
        signal: AbortSignal.timeout(5000),
      });
      if (!response.ok) throw new Error(`checkpoint webhook answered ${response.status}`);
    }
  }
}
