import { type FormEvent, useState } from 'react';
import { api, query } from '../api/client.js';
import type { Finding, Page } from '../api/types.js';
import { countsChanged } from '../lib/counts.js';
import { relative, when } from '../lib/format.js';
import { Link, setSearch, useLocation } from '../lib/router.js';
import { useAsync, useEvery } from '../lib/use-async.js';
import { Badge, Empty, ErrorNotice, Loading } from '../ui/feedback.js';
import { Pager } from '../ui/pager.js';
import { ReasonDialog } from '../ui/reason-dialog.js';
import { useSession } from '../ui/session.js';

const FILTERS = ['status', 'severity', 'detector', 'agent'] as const;
/** New findings show up without a reload: the list is read again this often. */
const REFRESH_MS = 10_000;

type Change = { finding: Finding; verb: 'resolve' | 'false-positive' } | null;

/**
 * The monitor's findings (alerts), newest first: open ones by default, with
 * filters in the address. Admins and owners (for their own agents) acknowledge,
 * resolve or mark them as false positives; auditors read.
 */
export function FindingsPage() {
  const s = useSession();
  const { search } = useLocation();
  const filters = Object.fromEntries(FILTERS.map((f) => [f, search.get(f) ?? ''])) as Record<
    (typeof FILTERS)[number],
    string
  >;
  // no status in the address means open ones; `all` means every status
  const status = filters.status === '' ? 'open' : filters.status === 'all' ? undefined : filters.status;
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const [open, setOpen] = useState<string | null>(null);
  const [change, setChange] = useState<Change>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const key = search.toString();
  const { data, error, loading, slow, reload } = useAsync(
    () =>
      api<Page<Finding>>(
        'GET',
        `/api/v1/findings${query({
          status,
          severity: filters.severity,
          detector: filters.detector,
          agent: filters.agent,
          limit: 50,
          cursor,
        })}`,
      ),
    [key, cursor],
  );
  useEvery(REFRESH_MS, reload);
  const canChange = s.isAdmin || s.role === 'owner';

  function apply(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const f of FILTERS) {
      const v = String(form.get(f) ?? '').trim();
      if (v && !(f === 'status' && v === 'open')) next.set(f, v);
    }
    setCursors([null]);
    setSearch(next);
  }
  async function acknowledge(f: Finding) {
    setActionError(null);
    try {
      await api('POST', `/api/v1/findings/${f.id}/acknowledge`, {});
      reload();
      countsChanged();
    } catch (err) {
      setActionError(err);
    }
  }

  return (
    <section aria-labelledby="findings-title">
      <div className="page-head">
        <h1 id="findings-title">Findings</h1>
      </div>
      <p className="muted">
        What the monitor raised about agents' behaviour. Each finding names its detector, why it fired and the
        audit events that made it fire. The list refreshes every {REFRESH_MS / 1000} seconds.
      </p>
      <form className="filters" aria-label="Filter findings" onSubmit={apply} key={key}>
        <label className="field">
          <span>Status</span>
          <select name="status" defaultValue={filters.status || 'open'}>
            <option value="open">open</option>
            <option value="acknowledged">acknowledged</option>
            <option value="resolved">resolved</option>
            <option value="false_positive">false positive</option>
            <option value="all">all</option>
          </select>
        </label>
        <label className="field">
          <span>Severity</span>
          <select name="severity" defaultValue={filters.severity}>
            <option value="">any</option>
            <option value="low">low</option>
            <option value="medium">medium</option>
            <option value="high">high</option>
            <option value="critical">critical</option>
          </select>
        </label>
        <label className="field">
          <span>Detector</span>
          <input name="detector" defaultValue={filters.detector} placeholder="any" />
        </label>
        <label className="field">
          <span>Agent id</span>
          <input name="agent" defaultValue={filters.agent} placeholder="any" />
        </label>
        <div className="actions">
          <button type="submit">Apply</button>
        </div>
      </form>
      {error !== null && <ErrorNotice error={error} onRetry={reload} />}
      {actionError !== null && <ErrorNotice error={actionError} />}
      {loading && slow && <Loading />}
      {data && data.items.length === 0 && (
        <Empty title={status === 'open' ? 'No open findings' : 'No findings match'}>
          {status === 'open' ? 'Nothing unusual is waiting for a look.' : 'Try other filters.'}
        </Empty>
      )}
      {data && data.items.length > 0 && (
        <div className="table-wrap">
          <table className="data" data-testid="findings" aria-busy={loading}>
            <caption className="sr-only">Findings, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Severity</th>
                <th scope="col">Finding</th>
                <th scope="col">Agent</th>
                <th scope="col">Status</th>
                <th scope="col">Response</th>
                <th scope="col">Last seen</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((f) => (
                <FindingRows
                  key={f.id}
                  finding={f}
                  expanded={open === f.id}
                  onToggle={() => setOpen(open === f.id ? null : f.id)}
                  canChange={canChange}
                  canReadAudit={s.canReadAudit}
                  onAcknowledge={() => void acknowledge(f)}
                  onChange={(verb) => setChange({ finding: f, verb })}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && (
        <Pager cursors={cursors} setCursors={setCursors} nextCursor={data.nextCursor} loading={loading} />
      )}
      <ReasonDialog
        open={change !== null}
        title={change?.verb === 'resolve' ? 'Resolve the finding' : 'Mark the finding as a false positive'}
        action={change?.verb === 'resolve' ? 'Resolve' : 'Mark as false positive'}
        onClose={() => setChange(null)}
        onConfirm={async (reason) => {
          if (!change) return;
          await api('POST', `/api/v1/findings/${change.finding.id}/${change.verb}`, { reason });
          reload();
          countsChanged();
        }}
      >
        <p>{change?.finding.title}</p>
      </ReasonDialog>
    </section>
  );
}

function FindingRows({
  finding: f,
  expanded,
  onToggle,
  canChange,
  canReadAudit,
  onAcknowledge,
  onChange,
}: {
  finding: Finding;
  expanded: boolean;
  onToggle: () => void;
  canChange: boolean;
  canReadAudit: boolean;
  onAcknowledge: () => void;
  onChange: (verb: 'resolve' | 'false-positive') => void;
}) {
  const settled = f.status === 'resolved' || f.status === 'false_positive';
  return (
    <>
      <tr data-finding={f.id}>
        <td>
          <Badge value={f.severity} />
        </td>
        <td>
          <button
            type="button"
            className="link"
            aria-expanded={expanded}
            aria-controls={`finding-${f.id}`}
            onClick={onToggle}
          >
            {f.title}
          </button>
          <div className="muted small">
            <code>{f.detector}</code>
            {f.occurrences > 1 ? ` · seen ${f.occurrences} times` : ''}
          </div>
        </td>
        <td>
          <Link to={`/agents/${f.agent}`} className="mono">
            {f.agent}
          </Link>
        </td>
        <td>
          <Badge value={f.status} />
        </td>
        <td>{f.response}</td>
        <td title={when(f.lastSeen)}>{relative(f.lastSeen)}</td>
        <td className="row-actions">
          {canChange && f.status === 'open' && (
            <button type="button" className="secondary small" onClick={onAcknowledge}>
              Acknowledge
            </button>
          )}
          {canChange && !settled && (
            <>
              <button type="button" className="secondary small" onClick={() => onChange('resolve')}>
                Resolve…
              </button>
              <button type="button" className="secondary small" onClick={() => onChange('false-positive')}>
                False positive…
              </button>
            </>
          )}
        </td>
      </tr>
      {expanded && (
        <tr id={`finding-${f.id}`} className="detail-row">
          <td colSpan={7}>
            <p>{f.explanation}</p>
            <p className="muted small">
              First seen {when(f.firstSeen)} · last seen {when(f.lastSeen)} · id <code>{f.id}</code>
              {f.statusReason ? ` · ${f.status} by ${f.statusBy ?? 'unknown'}: ${f.statusReason}` : ''}
            </p>
            <h3 className="small">Evidence</h3>
            <ol className="timeline">
              {f.evidence.map((e, i) => {
                const seq = typeof e.seq === 'number' ? e.seq : null;
                return (
                  <li key={seq ?? i}>
                    {seq !== null && canReadAudit ? (
                      <Link to={`/audit?event=${seq}`}>
                        <code>{String(e.action ?? 'event')}</code>
                      </Link>
                    ) : (
                      <code>{String(e.action ?? 'event')}</code>
                    )}{' '}
                    {e.resource !== undefined && e.resource !== null && (
                      <span className="mono">{textOf(e.resource)} </span>
                    )}
                    {typeof e.outcome === 'string' && e.outcome !== 'allow' && <Badge value={e.outcome} />}
                    <span className="muted small">
                      {typeof e.at === 'string' ? when(e.at) : ''}
                      {typeof e.sourceAddress === 'string' ? ` · from ${e.sourceAddress}` : ''}
                      {seq !== null ? ` · audit #${seq}` : ''}
                    </span>
                  </li>
                );
              })}
            </ol>
          </td>
        </tr>
      )}
    </>
  );
}

/** A resource as evidence carries it (`{type, id}` or text), in words. */
function textOf(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  if (typeof resource === 'object' && resource !== null) {
    const { type, id } = resource as { type?: unknown; id?: unknown };
    if (typeof type === 'string' && typeof id === 'string') return `${type} ${id}`;
  }
  return JSON.stringify(resource);
}
