import { CustosError } from '../core/index.js';

/**
 * Raised by a store when the database cannot be written (or reached) right now:
 * a read-only or full disk, an I/O error, a lock held too long, a lost or
 * refused connection. The write it interrupted was rolled back (or, for a lost
 * commit acknowledgement, its outcome is unknown but complete: all or nothing).
 * It is a {@link CustosError} with code `unavailable`, so the admin API answers
 * 503 `urn:custos:problem:unavailable`; the condition is expected to clear, and
 * the store recovers without a restart.
 */
export class StoreUnavailable extends CustosError {
  constructor(cause: unknown) {
    super('unavailable', 'the database cannot be written right now: nothing was changed; try again', {
      cause,
    });
  }
}

// SQLite result codes (and their extended forms, e.g. SQLITE_IOERR_WRITE) that say
// the database cannot take writes now, not that the request was wrong.
const SQLITE_UNAVAILABLE = [
  'SQLITE_READONLY',
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'SQLITE_CANTOPEN',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_NOMEM',
  'SQLITE_PROTOCOL',
];

/** True for a better-sqlite3 error code meaning "cannot write now". */
export function isSqliteUnavailableCode(code: unknown): boolean {
  return (
    typeof code === 'string' &&
    SQLITE_UNAVAILABLE.some((prefix) => code === prefix || code.startsWith(`${prefix}_`))
  );
}

// SQLSTATE classes and codes: 08 connection exception, 53 insufficient resources
// (disk full, out of memory, too many connections), 57P01–57P03 shutdown or not
// accepting connections, 57014 statement timeout, 55P03 lock timeout, 25006
// read-only transaction (standby, `default_transaction_read_only`), 28 refused
// authorization (e.g. a login disabled), 3D000 database gone, 42501 privilege
// revoked on a table.
const PG_CLASSES = ['08', '53', '28'];
const PG_CODES = ['57P01', '57P02', '57P03', '57014', '55P03', '25006', '3D000', '42501'];
// errors from the socket or the pg client itself, before any SQLSTATE
const NODE_CODES = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
];
const PG_CLIENT_MESSAGES =
  /Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect|Client was closed|not queryable/i;

/** True for a `pg` error meaning the database cannot be reached or written now. */
export function isPostgresUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailable) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (NODE_CODES.includes(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return PG_CLASSES.includes(code.slice(0, 2)) || PG_CODES.includes(code);
  }
  return error instanceof Error && PG_CLIENT_MESSAGES.test(error.message);
}
