import { type FormEvent, useState } from 'react';
import { api, query } from '../api/client.js';
import type { AuditEvent, Page } from '../api/types.js';
import { when } from '../lib/format.js';
import { setSearch, useLocation } from '../lib/router.js';
import { useAsync } from '../lib/use-async.js';
import { Badge, Empty, ErrorNotice, Loading } from '../ui/feedback.js';
import { Modal } from '../ui/modal.js';
import { Pager } from '../ui/pager.js';
import { useSession } from '../ui/session.js';
import { AuditChain } from './audit-chain.js';

const FILTERS = ['q', 'action', 'outcome', 'actor', 'agent', 'user', 'target', 'from', 'to'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

/** `from`/`to` come from datetime-local inputs (local time) and go out as RFC 3339. */
const toIso = (local: string) => (local ? new Date(local).toISOString() : undefined);

/** The audit log: filters, newest-first pages, one event in full, the chain's state, export. */
export function AuditPage() {
  const s = useSession();
  const { search } = useLocation();
  const filters = Object.fromEntries(FILTERS.map((f) => [f, search.get(f) ?? ''])) as Filters;
  const eventSeq = search.get('event');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const key = FILTERS.map((f) => filters[f]).join('|');
  const params = {
    q: filters.q,
    action: filters.action,
    outcome: filters.outcome,
    actor: filters.actor,
    agent: filters.agent,
    user: filters.user,
    target: filters.target,
    from: toIso(filters.from),
    to: toIso(filters.to),
  };
  const events = useAsync(
    () =>
      api<Page<AuditEvent>>(
        'GET',
        `/api/v1/audit/events${query({ ...params, order: 'desc', limit: 50, cursor })}`,
      ),
    [key, cursor],
  );
  const selected = useAsync(async () => {
    if (!eventSeq || !/^\d+$/.test(eventSeq)) return null;
    const page = await api<Page<AuditEvent>>(
      'GET',
      `/api/v1/audit/events?after=${Number(eventSeq) - 1}&limit=1`,
    );
    return page.items[0] ?? null;
  }, [eventSeq]);

  if (!s.canReadAudit) {
    return (
      <section>
        <h1>Audit</h1>
        <p>The audit log is visible to admins and auditors.</p>
      </section>
    );
  }

  function apply(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const f of FILTERS) {
      const v = String(form.get(f) ?? '').trim();
      if (v) next.set(f, v);
    }
    setCursors([null]);
    setSearch(next);
  }
  function openEvent(seq: number | null) {
    const next = new URLSearchParams(search);
    if (seq === null) next.delete('event');
    else next.set('event', String(seq));
    setSearch(next);
  }
  const filtered = FILTERS.some((f) => filters[f]);
  const exportQuery = (format: string) => `/api/v1/audit/export${query({ ...params, format })}`;

  return (
    <section aria-labelledby="audit-title">
      <div className="page-head">
        <h1 id="audit-title">Audit log</h1>
        <div className="actions">
          <span className="muted small">Export these events:</span>
          <a className="button secondary small" href={exportQuery('jsonl')} download>
            JSON lines
          </a>
          <a className="button secondary small" href={exportQuery('csv')} download>
            CSV
          </a>
          <a className="button secondary small" href={exportQuery('ocsf')} download>
            OCSF
          </a>
        </div>
      </div>
      <AuditChain />
      <form className="filters" aria-label="Filter events" onSubmit={apply} key={key}>
        <label className="field grow">
          <span>Search</span>
          <input
            name="q"
            type="search"
            defaultValue={filters.q}
            placeholder="text in action, actor, target, reason…"
          />
        </label>
        <label className="field">
          <span>Action</span>
          <input name="action" defaultValue={filters.action} placeholder="agent.* or agent.suspend" />
        </label>
        <label className="field">
          <span>Outcome</span>
          <select name="outcome" defaultValue={filters.outcome}>
            <option value="">any</option>
            <option value="success">success</option>
            <option value="denied">denied</option>
            <option value="failure">failure</option>
          </select>
        </label>
        <label className="field">
          <span>Agent</span>
          <input name="agent" defaultValue={filters.agent} placeholder="agt_…" />
        </label>
        <label className="field">
          <span>User</span>
          <input name="user" defaultValue={filters.user} placeholder="email or usr_…" />
        </label>
        <label className="field">
          <span>Actor</span>
          <input name="actor" defaultValue={filters.actor} placeholder="tok_…, agt_…" />
        </label>
        <label className="field">
          <span>Target</span>
          <input name="target" defaultValue={filters.target} />
        </label>
        <label className="field">
          <span>From</span>
          <input name="from" type="datetime-local" defaultValue={filters.from} />
        </label>
        <label className="field">
          <span>To</span>
          <input name="to" type="datetime-local" defaultValue={filters.to} />
        </label>
        <div className="actions">
          <button type="submit">Filter</button>
          {filtered && (
            <button
              type="button"
              className="secondary"
              onClick={() => {
                setCursors([null]);
                setSearch(new URLSearchParams());
              }}
            >
              Clear
            </button>
          )}
        </div>
      </form>
      {events.error !== null && <ErrorNotice error={events.error} onRetry={events.reload} />}
      {events.loading && events.slow && <Loading />}
      {events.data && events.data.items.length === 0 && !events.loading && (
        <Empty title={filtered ? 'No event matches these filters' : 'The audit log is empty'} />
      )}
      {events.data && events.data.items.length > 0 && (
        <div className="table-wrap">
          <table className="data" aria-busy={events.loading}>
            <caption className="sr-only">Audit events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Outcome</th>
                <th scope="col">Actor</th>
                <th scope="col">Target</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {events.data.items.map((e) => (
                <tr key={e.id}>
                  <td>
                    <button type="button" className="link" onClick={() => openEvent(e.seq)}>
                      {e.seq}
                    </button>
                  </td>
                  <td className="small">{when(e.at)}</td>
                  <td>
                    <code>{e.action}</code>
                  </td>
                  <td>
                    <Badge value={e.outcome} />
                  </td>
                  <td className="small">
                    {e.actor.type} <span className="mono">{e.actor.id}</span>
                  </td>
                  <td className="small mono">{e.target ? e.target.id : '—'}</td>
                  <td className="small">{e.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {events.data && (
        <Pager
          cursors={cursors}
          setCursors={setCursors}
          nextCursor={events.data.nextCursor}
          loading={events.loading}
          labels={['Newer', 'Older']}
        />
      )}
      <Modal open={eventSeq !== null} title={`Audit event ${eventSeq ?? ''}`} onClose={() => openEvent(null)}>
        {selected.error !== null && <ErrorNotice error={selected.error} />}
        {selected.loading && <Loading />}
        {!selected.loading && selected.data === null && (
          <Empty title="No such event (it may have been pruned)" />
        )}
        {selected.data && <EventDetail event={selected.data} />}
      </Modal>
    </section>
  );
}

function EventDetail({ event: e }: { event: AuditEvent }) {
  return (
    <div data-testid="event-detail">
      <dl className="props">
        <dt>Sequence</dt>
        <dd>{e.seq}</dd>
        <dt>Id</dt>
        <dd className="mono">{e.id}</dd>
        <dt>When</dt>
        <dd>{when(e.at)}</dd>
        <dt>Action</dt>
        <dd>
          <code>{e.action}</code> <Badge value={e.outcome} />
        </dd>
        <dt>Actor</dt>
        <dd>
          {e.actor.type} <span className="mono">{e.actor.id}</span>
        </dd>
        <dt>Target</dt>
        <dd>{e.target ? `${e.target.type} ${e.target.id}` : '—'}</dd>
        <dt>Reason</dt>
        <dd>{e.reason ?? '—'}</dd>
        <dt>Request</dt>
        <dd className="mono">{e.requestId ?? '—'}</dd>
        <dt>Previous hash</dt>
        <dd className="mono wrap">{e.prevHash ?? '—'}</dd>
        <dt>Hash</dt>
        <dd className="mono wrap">{e.hash ?? '—'}</dd>
      </dl>
      <h3>Details</h3>
      <pre className="json">{JSON.stringify(e.details, null, 2)}</pre>
    </div>
  );
}
