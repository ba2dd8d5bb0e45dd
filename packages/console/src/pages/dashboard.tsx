import { api } from '../api/client.js';
import type { Dashboard } from '../api/types.js';
import { relative, when } from '../lib/format.js';
import { Link } from '../lib/router.js';
import { useAsync } from '../lib/use-async.js';
import { BarChart } from '../ui/chart.js';
import { Badge, Empty, ErrorNotice, Loading } from '../ui/feedback.js';
import { useSession } from '../ui/session.js';

function CountList({
  title,
  counts,
  filter,
}: {
  title: string;
  counts: Record<string, number>;
  filter?: string;
}) {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return (
    <section className="card stat" aria-label={title}>
      <h3>{title}</h3>
      {entries.length === 0 ? (
        <p className="muted">none</p>
      ) : (
        <ul className="counts">
          {entries.map(([key, n]) => (
            <li key={key}>
              {filter ? (
                <Link
                  to={`/agents?${filter}=${encodeURIComponent(key)}`}
                  aria-label={`${key}: show these agents`}
                >
                  <Badge value={key} />
                </Link>
              ) : (
                <Badge value={key} />
              )}
              <span className="count">{n}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function DashboardPage() {
  const s = useSession();
  const { data, error, loading, slow, reload } = useAsync(
    () => api<Dashboard>('GET', '/api/v1/dashboard?days=14'),
    [],
  );
  return (
    <section aria-labelledby="dash-title">
      <div className="page-head">
        <h1 id="dash-title">Dashboard</h1>
        <button type="button" className="secondary" onClick={reload} disabled={loading}>
          Refresh
        </button>
      </div>
      {error !== null && <ErrorNotice error={error} onRetry={reload} />}
      {!data && loading && slow && <Loading />}
      {data && (
        <>
          {data.agents.total === 0 ? (
            <Empty title="No agents yet">
              {s.canManageAgents ? (
                <>
                  <Link to="/agents/new">Register the first agent</Link> to see it here.
                </>
              ) : (
                'Agents appear here once an admin or owner registers them.'
              )}
            </Empty>
          ) : (
            <div className="grid stats">
              <section className="card stat total" aria-label="Agents">
                <h3>Agents</h3>
                <p className="big" data-testid="agent-total">
                  {data.agents.total}
                </p>
                {s.role === 'owner' && <p className="muted small">your agents</p>}
              </section>
              <CountList title="By status" counts={data.agents.byStatus} filter="status" />
              <CountList title="By environment" counts={data.agents.byEnvironment} filter="environment" />
              <CountList title="By risk" counts={data.agents.byRisk} />
            </div>
          )}
          {data.activity ? (
            <div className="grid two">
              <section className="card">
                <BarChart
                  title="Tokens issued"
                  days={data.activity.tokens}
                  series={[
                    { key: 'issued', label: 'issued', className: 'fill-ok' },
                    { key: 'refused', label: 'refused', className: 'fill-bad' },
                  ]}
                />
              </section>
              <section className="card">
                <BarChart
                  title="Policy decisions"
                  days={data.activity.decisions}
                  series={[
                    { key: 'allow', label: 'allowed', className: 'fill-ok' },
                    { key: 'deny', label: 'denied', className: 'fill-bad' },
                  ]}
                />
              </section>
            </div>
          ) : (
            <p className="muted">
              Token and decision history come from the audit log, which owners do not read.
            </p>
          )}
          <div className="grid three">
            {data.recentDenials && (
              <section className="card" aria-labelledby="denials-title">
                <h2 id="denials-title">Recent denials</h2>
                {data.recentDenials.length === 0 ? (
                  <Empty title="No denials recorded" />
                ) : (
                  <ul className="plain">
                    {data.recentDenials.map((e) => (
                      <li key={e.id}>
                        <Link to={`/audit?event=${e.seq}`}>{e.action}</Link>{' '}
                        {e.target && <code>{e.target.id}</code>}
                        <div className="muted small">
                          {e.reason ?? 'denied'} · {relative(e.at)}
                        </div>
                      </li>
                    ))}
                  </ul>
                )}
              </section>
            )}
            <section className="card" aria-labelledby="expiring-title">
              <h2 id="expiring-title">Expiring within 14 days</h2>
              {data.expiringSoon.length === 0 ? (
                <Empty title="No agent expires soon" />
              ) : (
                <ul className="plain">
                  {data.expiringSoon.map((a) => (
                    <li key={a.id}>
                      <Link to={`/agents/${a.id}`}>{a.name}</Link>
                      <div className="muted small" title={when(a.expiresAt)}>
                        expires {relative(a.expiresAt)} · {a.owner.email}
                      </div>
                    </li>
                  ))}
                </ul>
              )}
            </section>
            <section className="card" aria-labelledby="inactive-title">
              <h2 id="inactive-title">No activity for 30 days</h2>
              {data.inactive.total === 0 ? (
                <Empty title="Every active agent was used recently" />
              ) : (
                <>
                  <ul className="plain">
                    {data.inactive.items.map((a) => (
                      <li key={a.id}>
                        <Link to={`/agents/${a.id}`}>{a.name}</Link>
                        <div className="muted small">
                          last activity {relative(a.lastActivityAt)} · {a.ownerEmail}
                        </div>
                      </li>
                    ))}
                  </ul>
                  {data.inactive.total > data.inactive.items.length && (
                    <p className="muted small">and {data.inactive.total - data.inactive.items.length} more</p>
                  )}
                </>
              )}
            </section>
          </div>
        </>
      )}
    </section>
  );
}
