import { type FormEvent, useState } from 'react';
import { api } from '../api/client.js';
import type { Consent } from '../api/types.js';
import { relative, when } from '../lib/format.js';
import { Link } from '../lib/router.js';
import { useAsync } from '../lib/use-async.js';
import { Badge, Empty, ErrorNotice, Loading } from '../ui/feedback.js';
import { apiFieldError, Field } from '../ui/field.js';
import { ReasonDialog } from '../ui/reason-dialog.js';
import { useSession } from '../ui/session.js';

const words = (text: string) => text.split(/\s+/).filter((w) => w !== '');

/** A consent's state now: withdrawn, expired or active. */
function stateOf(c: Consent, now = Date.now()): 'revoked' | 'expired' | 'active' {
  if (c.revokedAt !== null) return 'revoked';
  return Date.parse(c.expiresAt) <= now ? 'expired' : 'active';
}

/**
 * Consents: a person lets an agent act for them (RFC 8693 delegated tokens),
 * for scopes and optionally only some tools, until a time. Owners see and give
 * their own; admins see all and may record one for anyone; auditors read.
 * Withdrawing one revokes every token derived from it at once.
 */
export function ConsentsPage() {
  const s = useSession();
  const [withdraw, setWithdraw] = useState<Consent | null>(null);
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<unknown>(null);
  const [formKey, setFormKey] = useState(0);
  const [daysError, setDaysError] = useState<string | null>(null);
  const { data, error, loading, slow, reload } = useAsync(
    () => api<{ items: Consent[] }>('GET', '/api/v1/consents'),
    [],
  );
  const me = s.session.actor.userId;
  const canGive = s.isAdmin || (s.role === 'owner' && me !== null);
  const fieldError = (name: string) => apiFieldError(formError, name);

  async function give(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const text = (k: string) => String(f.get(k) ?? '').trim();
    const days = text('days') === '' ? 30 : Number(text('days'));
    const tools = words(text('tools'));
    setFormError(null);
    setDaysError(null);
    if (!Number.isInteger(days) || days < 1 || days > 3650) {
      setDaysError('a whole number of days from 1 to 3650');
      return;
    }
    setBusy(true);
    try {
      await api<Consent>('POST', '/api/v1/consents', {
        user: s.isAdmin ? text('user') : (me ?? ''),
        agent: text('agent'),
        scopes: words(text('scopes')),
        ...(tools.length > 0 ? { tools } : {}),
        expiresAt: new Date(Date.now() + days * 86_400_000).toISOString(),
      });
      setFormKey((k) => k + 1);
      reload();
    } catch (err) {
      setFormError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="consents-title">
      <div className="page-head">
        <h1 id="consents-title">Consents</h1>
      </div>
      <p className="muted">
        Who lets which agent act on their behalf, for what and until when. An agent exchanges the person's
        token for a delegated one only within a consent; withdrawing it revokes every token derived from it at
        once.
      </p>
      {canGive && (
        <form className="card form" aria-label="Give a consent" onSubmit={give} key={formKey}>
          <h2 className="small">Give a consent</h2>
          {s.isAdmin && (
            <Field name="user" label="Person (email or user id)" required error={fieldError('user')} />
          )}
          <Field name="agent" label="Agent id" required placeholder="agt_…" error={fieldError('agent')} />
          <Field
            name="scopes"
            label="Scopes"
            required
            placeholder="payments read"
            hint="separated by spaces"
            error={fieldError('scopes')}
          />
          <Field
            name="tools"
            label="Only these tools"
            placeholder="payments/transfer crm/*"
            hint="optional: `server/tool` or `server/*`, separated by spaces; none means every tool"
            error={fieldError('tools')}
          />
          <Field
            name="days"
            label="Valid for (days)"
            placeholder="30"
            error={daysError ?? fieldError('expiresAt')}
          />
          {formError !== null && <ErrorNotice error={formError} />}
          <div className="actions">
            <button type="submit" disabled={busy} aria-busy={busy}>
              {busy ? 'Giving…' : 'Give consent'}
            </button>
          </div>
        </form>
      )}
      {error !== null && <ErrorNotice error={error} onRetry={reload} />}
      {loading && slow && <Loading />}
      {data && data.items.length === 0 && (
        <Empty title="No consents">No person has let an agent act for them yet.</Empty>
      )}
      {data && data.items.length > 0 && (
        <div className="table-wrap">
          <table className="data" data-testid="consents" aria-busy={loading}>
            <caption className="sr-only">Consents, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Person</th>
                <th scope="col">Agent</th>
                <th scope="col">Scopes</th>
                <th scope="col">Tools</th>
                <th scope="col">State</th>
                <th scope="col">Given</th>
                <th scope="col">Until</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {[...data.items]
                .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
                .map((c) => {
                  const state = stateOf(c);
                  return (
                    <tr key={c.id} data-consent={c.id}>
                      <td className="mono">{c.user === me ? 'you' : c.user}</td>
                      <td>
                        <Link to={`/agents/${c.agent}`} className="mono">
                          {c.agent}
                        </Link>
                      </td>
                      <td className="mono">{c.scopes.join(' ')}</td>
                      <td className="mono">{c.tools ? c.tools.join(' ') : 'every tool'}</td>
                      <td>
                        <Badge value={state} />
                      </td>
                      <td title={when(c.createdAt)}>{relative(c.createdAt)}</td>
                      <td title={when(c.revokedAt ?? c.expiresAt)}>{relative(c.revokedAt ?? c.expiresAt)}</td>
                      <td className="row-actions">
                        {state !== 'revoked' && (s.isAdmin || (s.role === 'owner' && c.user === me)) && (
                          <button type="button" className="secondary small" onClick={() => setWithdraw(c)}>
                            Withdraw…
                          </button>
                        )}
                      </td>
                    </tr>
                  );
                })}
            </tbody>
          </table>
        </div>
      )}
      <ReasonDialog
        open={withdraw !== null}
        title="Withdraw the consent"
        action="Withdraw"
        danger
        withReason={false}
        onClose={() => setWithdraw(null)}
        onConfirm={async () => {
          if (!withdraw) return;
          await api('DELETE', `/api/v1/consents/${withdraw.id}`);
          reload();
        }}
      >
        <p>
          <span className="mono">{withdraw?.agent}</span> may no longer act for{' '}
          {withdraw?.user === me ? 'you' : <span className="mono">{withdraw?.user}</span>}; every token
          derived from this consent stops working at once.
        </p>
      </ReasonDialog>
    </section>
  );
}
