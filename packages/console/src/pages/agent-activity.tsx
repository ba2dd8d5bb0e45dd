import { ApiError, api } from '../api/client.js';
import type { AuditEvent, Page } from '../api/types.js';
import { when } from '../lib/format.js';
import { Link } from '../lib/router.js';
import { useAsync } from '../lib/use-async.js';
import { Badge, Empty, ErrorNotice, Loading } from '../ui/feedback.js';

/** The agent's latest audit events: what it did and what was done to it, newest first. */
export function AgentActivity({ agentId, version }: { agentId: string; version: number }) {
  const events = useAsync(
    () => api<Page<AuditEvent>>('GET', `/api/v1/audit/events?agent=${agentId}&order=desc&limit=25`),
    [agentId, version],
  );
  return (
    <section className="card" aria-labelledby="activity-title">
      <div className="section-head">
        <h2 id="activity-title">Recent activity</h2>
        {events.data && events.data.items.length > 0 && (
          <Link to={`/audit?agent=${agentId}`}>All events</Link>
        )}
      </div>
      {events.error instanceof ApiError && events.error.status === 403 ? (
        <p className="muted">The audit log is visible to admins and auditors.</p>
      ) : events.error !== null ? (
        <ErrorNotice error={events.error} onRetry={events.reload} />
      ) : null}
      {events.loading && events.slow && <Loading />}
      {events.data && events.data.items.length === 0 && <Empty title="No activity recorded yet" />}
      {events.data && events.data.items.length > 0 && (
        <ol className="timeline" data-testid="activity">
          {events.data.items.map((e) => (
            <li key={e.id}>
              <Link to={`/audit?event=${e.seq}`}>
                <code>{e.action}</code>
              </Link>{' '}
              {e.outcome !== 'success' && <Badge value={e.outcome} />}
              <span className="muted small"> {when(e.at)}</span>
              <div className="muted small">
                by {e.actor.type} <span className="mono">{e.actor.id}</span>
                {e.reason ? ` · ${e.reason}` : ''}
              </div>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
