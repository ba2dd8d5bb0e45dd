import type { ReactNode } from 'react';
import { ApiError } from '../api/client.js';

/** A loading indicator, announced to screen readers. */
export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

/** Why something failed, in words a person can act on; the request id helps whoever reads the server log. */
export function ErrorNotice({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  let title = 'Something went wrong';
  let detail = error instanceof Error ? error.message : String(error);
  let fields: readonly { pointer: string; detail: string }[] = [];
  let requestId: string | null = null;
  if (error instanceof ApiError) {
    requestId = error.requestId;
    fields = error.errors.length > 1 ? error.errors : [];
    detail = error.detail;
    if (error.status === 403) title = 'Not allowed';
    else if (error.status === 404) title = 'Not found';
    else if (error.status === 0) title = 'Connection problem';
    else if (error.status === 429) title = 'Too many attempts';
    else if (error.status >= 500) title = 'The server had a problem';
    else if (error.status === 400) title = 'Please check your input';
    else if (error.status === 409) title = 'Conflict';
  }
  return (
    <div className="notice error" role="alert">
      <strong>{title}</strong>
      <p className="detail">{detail}</p>
      {fields.length > 0 && (
        <ul>
          {fields.map((f) => (
            <li key={`${f.pointer}:${f.detail}`}>{f.detail}</li>
          ))}
        </ul>
      )}
      {requestId && <p className="muted small">Request id: {requestId}</p>}
      {onRetry && (
        <button type="button" className="secondary" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** What to show when a list has nothing in it, and what to do about it. */
export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children && <div className="muted">{children}</div>}
    </div>
  );
}

export function Notice({ kind, children }: { kind: 'info' | 'success' | 'warning'; children: ReactNode }) {
  return (
    <div className={`notice ${kind}`} role="status">
      {children}
    </div>
  );
}

const BADGE: Record<string, string> = {
  active: 'ok',
  allow: 'ok',
  success: 'ok',
  suspended: 'warn',
  expired: 'warn',
  medium: 'warn',
  decommissioned: 'muted',
  revoked: 'muted',
  low: 'muted',
  denied: 'bad',
  deny: 'bad',
  failure: 'bad',
  high: 'bad',
  critical: 'bad',
  open: 'bad',
  acknowledged: 'warn',
  resolved: 'ok',
  false_positive: 'muted',
  pending: 'warn',
  approved: 'ok',
  used: 'muted',
};

export function Badge({ value }: { value: string }) {
  return <span className={`badge ${BADGE[value] ?? ''}`}>{value}</span>;
}
