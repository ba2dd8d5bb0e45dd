import { useState } from 'react';
import { ApiError, api } from '../api/client.js';
import type { Agent, StatusChange } from '../api/types.js';
import { relative, when } from '../lib/format.js';
import { Link } from '../lib/router.js';
import { useAsync } from '../lib/use-async.js';
import { Badge, ErrorNotice, Loading, Notice } from '../ui/feedback.js';
import { ReasonDialog } from '../ui/reason-dialog.js';
import { useSession } from '../ui/session.js';
import { AgentAccess } from './agent-access.js';
import { AgentActivity } from './agent-activity.js';
import { AgentCredentials } from './agent-credentials.js';

type Transition = 'suspend' | 'resume' | 'decommission';

/** One agent: what it is, its lifecycle, credentials, access and activity, and what can be done to it. */
export function AgentDetailPage({ id }: { id: string }) {
  const s = useSession();
  const [open, setOpen] = useState<Transition | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const agent = useAsync(() => api<Agent>('GET', `/api/v1/agents/${id}`), [id, version]);
  const history = useAsync(
    () => api<{ items: StatusChange[] }>('GET', `/api/v1/agents/${id}/history`),
    [id, version],
  );
  const a = agent.data;

  async function transition(kind: Transition, reason: string) {
    await api<Agent>('POST', `/api/v1/agents/${id}/${kind}`, { reason });
    setDone(
      kind === 'suspend'
        ? 'Agent suspended: its tokens are revoked.'
        : kind === 'resume'
          ? 'Agent resumed.'
          : 'Agent decommissioned.',
    );
    setVersion((v) => v + 1);
  }

  if (agent.error !== null && !a) {
    const forbidden = agent.error instanceof ApiError && agent.error.status === 403;
    return (
      <section>
        <p className="crumbs">
          <Link to="/agents">Agents</Link> /
        </p>
        <h1>Agent</h1>
        <ErrorNotice error={agent.error} onRetry={forbidden ? undefined : agent.reload} />
      </section>
    );
  }
  if (!a) return agent.slow ? <Loading /> : null;

  return (
    <section aria-labelledby="agent-title">
      <p className="crumbs">
        <Link to="/agents">Agents</Link> /
      </p>
      <div className="page-head">
        <div>
          <h1 id="agent-title">
            {a.name} <Badge value={a.status} />
          </h1>
          <p className="muted mono">{a.id}</p>
        </div>
        {s.canManageAgents && (
          <div className="actions">
            {a.status === 'active' && (
              <button type="button" className="warn" onClick={() => setOpen('suspend')}>
                Suspend
              </button>
            )}
            {a.status === 'suspended' && (
              <button type="button" onClick={() => setOpen('resume')}>
                Resume
              </button>
            )}
            {a.status !== 'decommissioned' && (
              <button type="button" className="danger" onClick={() => setOpen('decommission')}>
                Decommission
              </button>
            )}
          </div>
        )}
      </div>
      {!s.canManageAgents && (
        <Notice kind="info">Read-only: your role ({s.role}) cannot change agents.</Notice>
      )}
      {done && <Notice kind="success">{done}</Notice>}
      {a.statusReason && a.status !== 'active' && (
        <Notice kind="warning">
          {a.status}: {a.statusReason}
        </Notice>
      )}

      <div className="grid two">
        <section className="card" aria-labelledby="overview-title">
          <h2 id="overview-title">Overview</h2>
          <dl className="props">
            <dt>Owner</dt>
            <dd>{a.owner.email}</dd>
            <dt>Team</dt>
            <dd>{a.team ?? '—'}</dd>
            <dt>Purpose</dt>
            <dd>{a.purpose || '—'}</dd>
            <dt>Environment</dt>
            <dd>{a.environment}</dd>
            <dt>Risk</dt>
            <dd>
              <Badge value={a.riskLevel} />
            </dd>
            <dt>Tags</dt>
            <dd>
              {Object.keys(a.tags).length === 0
                ? '—'
                : Object.entries(a.tags).map(([k, v]) => (
                    <span key={k} className="tag">
                      {k}={v}
                    </span>
                  ))}
            </dd>
            <dt>Expires</dt>
            <dd title={when(a.expiresAt)}>{relative(a.expiresAt)}</dd>
            <dt>Created</dt>
            <dd>{when(a.createdAt)}</dd>
          </dl>
        </section>
        <section className="card" aria-labelledby="history-title">
          <h2 id="history-title">Status history</h2>
          {history.error !== null && <ErrorNotice error={history.error} />}
          {history.data && (
            <ol className="timeline" data-testid="status-history">
              {[...history.data.items].reverse().map((c) => (
                <li key={`${c.at}-${c.to}`}>
                  <Badge value={c.to} /> <span className="muted small">{when(c.at)}</span>
                  <div>{c.reason}</div>
                  <div className="muted small mono">{c.actor}</div>
                </li>
              ))}
            </ol>
          )}
        </section>
      </div>

      <AgentCredentials agent={a} />
      <AgentAccess agent={a} />
      <AgentActivity agentId={a.id} version={version} />

      <ReasonDialog
        open={open === 'suspend'}
        title={`Suspend ${a.name}`}
        action="Suspend"
        onClose={() => setOpen(null)}
        onConfirm={(reason) => transition('suspend', reason)}
      >
        <p>The agent's tokens are revoked at once and it can get no new ones until resumed.</p>
      </ReasonDialog>
      <ReasonDialog
        open={open === 'resume'}
        title={`Resume ${a.name}`}
        action="Resume"
        onClose={() => setOpen(null)}
        onConfirm={(reason) => transition('resume', reason)}
      />
      <ReasonDialog
        open={open === 'decommission'}
        title={`Decommission ${a.name}`}
        action="Decommission for good"
        danger
        confirmPhrase={a.name}
        onClose={() => setOpen(null)}
        onConfirm={(reason) => transition('decommission', reason)}
      >
        <p>
          <strong>This cannot be undone.</strong> The agent's tokens are revoked and it can never be resumed.
        </p>
      </ReasonDialog>
    </section>
  );
}
