import { EventEmitter } from 'node:events';
import pg from 'pg';

/** What changed, for caches to drop: a topic and the id of the changed thing. */
export interface Change {
  readonly topic:
    | 'agent'
    | 'agent_key'
    | 'federation'
    | 'signing_key'
    | 'policy'
    | 'token'
    // a vault secret (id: its name), and a gateway upstream (id: `mcp:<name>` or `http:<name>`)
    | 'secret'
    | 'gateway';
  readonly id: string;
}

/** Everything cached may be stale (the feed lost its connection): drop it all. */
export const RESET: Change = { topic: 'agent', id: '*' };

export interface ChangeFeed {
  /**
   * True while changes from other processes are being received. Caches must
   * not serve entries while it is false: they cannot know what they missed.
   */
  healthy(): boolean;
  /** Calls `listener` with every committed change, from this process and (PostgreSQL) every other one. */
  subscribe(listener: (change: Change) => void): () => void;
  /** Delivers changes committed by this process (the store calls this after commit). */
  deliverLocal(changes: readonly Change[]): void;
  close(): Promise<void>;
}

/** One channel per schema, so installs (and test runs) sharing a database do not hear each other. */
export const changeChannel = (schema: string | null) => `custos_changes${schema ? `_${schema}` : ''}`;

/** The feed of a single-process store (SQLite): every change is local. */
export function localChangeFeed(): ChangeFeed {
  const events = new EventEmitter();
  events.setMaxListeners(0);
  return {
    healthy: () => true,
    subscribe(listener) {
      events.on('change', listener);
      return () => events.off('change', listener);
    },
    deliverLocal(changes) {
      for (const change of changes) events.emit('change', change);
    },
    close: async () => {
      events.removeAllListeners();
    },
  };
}

/** The SQL that announces a change to every process (delivered at commit, with the transaction). */
export const NOTIFY_SQL = 'SELECT pg_notify($1, $2)';

/**
 * The feed of a shared PostgreSQL store: one dedicated connection LISTENs for
 * the notifications every node's transactions send (`NOTIFY` is transactional,
 * so a change is announced exactly when it commits). On a lost connection the
 * feed reports unhealthy, tells listeners to drop everything, and reconnects.
 */
export async function postgresChangeFeed(
  options: { connectionString: string; schema: string | null },
  onError: (error: unknown) => void = () => undefined,
): Promise<ChangeFeed> {
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let client: pg.Client | null = null;
  let connected = false;
  let closing = false;
  const emit = (change: Change) => events.emit('change', change);

  async function connect(): Promise<void> {
    const next = new pg.Client({ connectionString: options.connectionString });
    next.on('notification', (message) => {
      try {
        const change = JSON.parse(message.payload ?? '') as Change;
        if (typeof change.topic === 'string' && typeof change.id === 'string') emit(change);
      } catch (error) {
        onError(error);
      }
    });
    const lost = (error?: unknown) => {
      if (error) onError(error);
      if (!connected || client !== next) return;
      connected = false;
      emit(RESET);
      reconnect(500);
    };
    next.on('error', lost);
    next.on('end', () => lost());
    try {
      await next.connect();
      // INVARIANT: the schema name was validated as a plain identifier (postgres-driver.ts)
      await next.query(`LISTEN ${changeChannel(options.schema)}`);
    } catch (error) {
      await next.end().catch(() => undefined);
      throw error;
    }
    if (closing) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    connected = true;
    // anything committed while we were away is unknown: start clean
    emit(RESET);
  }

  // Keeps trying (with backoff up to 10 s) until the database takes the connection again.
  function reconnect(delayMs: number): void {
    if (closing) return;
    setTimeout(() => {
      connect().catch((error: unknown) => {
        onError(error);
        reconnect(Math.min(delayMs * 2, 10_000));
      });
    }, delayMs).unref();
  }

  await connect();
  return {
    healthy: () => connected,
    subscribe(listener) {
      events.on('change', listener);
      return () => events.off('change', listener);
    },
    deliverLocal(changes) {
      for (const change of changes) emit(change);
    },
    async close() {
      closing = true;
      connected = false;
      events.removeAllListeners();
      await client?.end().catch(() => undefined);
    },
  };
}
