import { type FormEvent, useState } from 'react';
import { api, query } from '../api/client.js';
import type { Approval } from '../api/types.js';
import { countsChanged } from '../lib/counts.js';
import { relative, when } from '../lib/format.js';
import { Link, setSearch, useLocation } from '../lib/router.js';
import { useAsync, useEvery } from '../lib/use-async.js';
import { Badge, Empty, ErrorNotice, Loading } from '../ui/feedback.js';
import { ReasonDialog } from '../ui/reason-dialog.js';
import { useSession } from '../ui/session.js';

/** New requests show up without a reload: the list is read again this often. */
const REFRESH_MS = 10_000;
const STATUSES = ['pending', 'approved', 'denied', 'used', 'all'] as const;

type Verdict = { approval: Approval; verb: 'approve' | 'deny' } | null;

/**
 * Approval requests: calls a policy (`@approval`) or a monitor restriction
 * held until a person says yes. People see the requests they decide, and
 * only the designated approver may approve or deny one (admins included:
 * an approval is that person's word); admins and auditors read them all.
 */
export function ApprovalsPage() {
  const s = useSession();
  const { search } = useLocation();
  const chosen = search.get('status') ?? 'pending';
  const status = (STATUSES as readonly string[]).includes(chosen) ? chosen : 'pending';
  const [verdict, setVerdict] = useState<Verdict>(null);
  const key = search.toString();
  const { data, error, loading, slow, reload } = useAsync(
    () =>
      api<{ items: Approval[] }>(
        'GET',
        `/api/v1/approvals${query({ status: status === 'all' ? undefined : status, limit: 200 })}`,
      ),
    [key],
  );
  useEvery(REFRESH_MS, reload);
  const me = s.session.actor.userId;

  function apply(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const picked = String(new FormData(e.currentTarget).get('status') ?? 'pending');
    setSearch(picked === 'pending' ? new URLSearchParams() : new URLSearchParams({ status: picked }));
  }

  return (
    <section aria-labelledby="approvals-title">
      <div className="page-head">
        <h1 id="approvals-title">Approvals</h1>
      </div>
      <p className="muted">
        Calls held until their approver says yes: the exact call (tool or route, arguments, body) as the agent
        asked to make it. An approval lets the agent make that call once, before it expires. The list
        refreshes every {REFRESH_MS / 1000} seconds.
      </p>
      <form className="filters" aria-label="Filter approvals" onSubmit={apply} key={key}>
        <label className="field">
          <span>Status</span>
          <select name="status" defaultValue={status}>
            {STATUSES.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </label>
        <div className="actions">
          <button type="submit">Apply</button>
        </div>
      </form>
      {error !== null && <ErrorNotice error={error} onRetry={reload} />}
      {loading && slow && <Loading />}
      {data && data.items.length === 0 && (
        <Empty title={status === 'pending' ? 'Nothing waits for an approval' : 'No approvals match'}>
          {status === 'pending'
            ? 'When a policy holds a call for approval, it appears here for its approver.'
            : 'Try another status.'}
        </Empty>
      )}
      {data && data.items.length > 0 && (
        <div className="table-wrap">
          <table className="data" data-testid="approvals" aria-busy={loading}>
            <caption className="sr-only">Approval requests, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Call</th>
                <th scope="col">Agent</th>
                <th scope="col">Status</th>
                <th scope="col">Asked</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((a) => (
                <tr key={a.id} data-approval={a.id}>
                  <td>
                    <div>
                      <code>{a.action}</code> on <span className="mono">{a.resource.id}</span>
                    </div>
                    <pre className="json small">{JSON.stringify(a.request, null, 2)}</pre>
                    <div className="muted small">
                      {a.onBehalfOf ? `for person ${a.onBehalfOf} · ` : ''}
                      asks the {a.approverKind === 'person' ? 'person it acts for' : 'agent’s owner'}
                      {a.approver === me ? ' (you)' : ` (${a.approver})`} · policies {a.policies.join(', ')}
                      {a.reason ? ` · decided because: ${a.reason}` : ''}
                    </div>
                  </td>
                  <td>
                    <Link to={`/agents/${a.agent}`} className="mono">
                      {a.agent}
                    </Link>
                  </td>
                  <td>
                    <Badge value={a.status} />
                  </td>
                  <td title={when(a.createdAt)}>{relative(a.createdAt)}</td>
                  <td title={when(a.expiresAt)}>{relative(a.expiresAt)}</td>
                  <td className="row-actions">
                    {a.status === 'pending' && a.approver === me && (
                      <>
                        <button
                          type="button"
                          className="small"
                          onClick={() => setVerdict({ approval: a, verb: 'approve' })}
                        >
                          Approve…
                        </button>
                        <button
                          type="button"
                          className="secondary small"
                          onClick={() => setVerdict({ approval: a, verb: 'deny' })}
                        >
                          Deny…
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ReasonDialog
        open={verdict !== null}
        title={verdict?.verb === 'approve' ? 'Approve the call' : 'Deny the call'}
        action={verdict?.verb === 'approve' ? 'Approve' : 'Deny'}
        danger={verdict?.verb === 'approve'}
        onClose={() => setVerdict(null)}
        onConfirm={async (reason) => {
          if (!verdict) return;
          await api('POST', `/api/v1/approvals/${encodeURIComponent(verdict.approval.id)}/${verdict.verb}`, {
            reason,
          });
          reload();
          countsChanged();
        }}
      >
        <p>
          <code>{verdict?.approval.action}</code> on{' '}
          <span className="mono">{verdict?.approval.resource.id}</span> by{' '}
          <span className="mono">{verdict?.approval.agent}</span>
        </p>
        <pre className="json small">{JSON.stringify(verdict?.approval.request ?? {}, null, 2)}</pre>
      </ReasonDialog>
    </section>
  );
}
