import { type FormEvent, useState } from 'react';
import { ApiError, api } from '../api/client.js';
import type { Agent, Grant, Page, PolicySet } from '../api/types.js';
import { relative } from '../lib/format.js';
import { useAsync } from '../lib/use-async.js';
import { Badge, Empty, ErrorNotice, Loading } from '../ui/feedback.js';
import { Modal } from '../ui/modal.js';
import { ReasonDialog } from '../ui/reason-dialog.js';
import { useSession } from '../ui/session.js';

const describe = (g: Grant) =>
  `${g.action} on ${g.resource.type}::"${g.resource.id}"${g.scope === 'in' ? ' (and everything in it)' : ''}`;

/**
 * What the agent may do: its own grants, its team's grants, and the enforced
 * policies that name it or its team. Grants and policies are readable by admins
 * and auditors; only admins add or revoke grants.
 */
export function AgentAccess({ agent }: { agent: Agent }) {
  const s = useSession();
  const grants = useAsync(
    () => api<Page<Grant>>('GET', `/api/v1/grants?agent=${agent.id}&limit=200`),
    [agent.id],
  );
  const teamGrants = useAsync(
    async () =>
      agent.team
        ? api<Page<Grant>>('GET', `/api/v1/grants?team=${encodeURIComponent(agent.team)}&live=true&limit=200`)
        : { items: [], nextCursor: null },
    [agent.team],
  );
  const policies = useAsync(() => api<PolicySet>('GET', '/api/v1/policies?mode=enforce'), [agent.id]);
  const [adding, setAdding] = useState(false);
  const [revoking, setRevoking] = useState<Grant | null>(null);

  if (grants.error instanceof ApiError && grants.error.status === 403) {
    return (
      <section className="card" aria-labelledby="access-title">
        <h2 id="access-title">Grants and effective permissions</h2>
        <p className="muted">Grants and policies are visible to admins and auditors.</p>
      </section>
    );
  }
  const naming = (policies.data?.policies ?? []).filter(
    (p) =>
      p.text.includes(`Agent::"${agent.id}"`) ||
      (agent.team !== null && p.text.includes(`Team::"${agent.team}"`)),
  );
  const live = [
    ...(grants.data?.items ?? []).filter((g) => g.status === 'active'),
    ...(teamGrants.data?.items ?? []),
  ];
  const canGrant = s.isAdmin && agent.status !== 'decommissioned';

  return (
    <div className="grid two">
      <section className="card" aria-labelledby="grants-title">
        <div className="section-head">
          <h2 id="grants-title">Grants</h2>
          {canGrant && (
            <button type="button" className="small" onClick={() => setAdding(true)}>
              Add grant
            </button>
          )}
        </div>
        {grants.error !== null && <ErrorNotice error={grants.error} onRetry={grants.reload} />}
        {grants.loading && grants.slow && <Loading />}
        {grants.data && grants.data.items.length === 0 && (
          <Empty title="No grants">
            Without a grant or a policy that permits it, every request is denied.
          </Empty>
        )}
        {grants.data && grants.data.items.length > 0 && (
          <ul className="plain">
            {grants.data.items.map((g) => (
              <li key={g.id} className="row">
                <div>
                  {describe(g)} <Badge value={g.status ?? 'active'} />
                  <div className="muted small">
                    {g.condition ? (
                      <>
                        when <code>{g.condition}</code> ·{' '}
                      </>
                    ) : null}
                    {g.expiresAt ? `until ${relative(g.expiresAt)} · ` : ''}
                    {g.reason}
                  </div>
                </div>
                {canGrant && g.status === 'active' && (
                  <button type="button" className="secondary small" onClick={() => setRevoking(g)}>
                    Revoke
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section className="card" aria-labelledby="effective-title">
        <h2 id="effective-title">Effective permissions</h2>
        <p className="muted small">
          Live grants of the agent{agent.team ? ` and of team ${agent.team}` : ''}, and enforced policies that
          name it. Forbid policies and conditions still apply: use <em>Test a request</em> on the Policies
          page for an exact answer.
        </p>
        {live.length === 0 && naming.length === 0 ? (
          <Empty title="Nothing is permitted explicitly" />
        ) : (
          <ul className="plain" data-testid="effective">
            {live.map((g) => (
              <li key={`g-${g.id}`}>
                <Badge value="allow" /> {describe(g)}
                {g.principal.type === 'Team' && (
                  <span className="muted small"> (via team {g.principal.id})</span>
                )}
              </li>
            ))}
            {naming.map((p) => (
              <li key={`p-${p.id}`}>
                <Badge value={p.effect === 'forbid' ? 'deny' : 'allow'} /> policy <code>{p.id}</code>
              </li>
            ))}
          </ul>
        )}
      </section>
      <AddGrantDialog
        agentId={agent.id}
        open={adding}
        onClose={() => setAdding(false)}
        onAdded={grants.reload}
      />
      <ReasonDialog
        open={revoking !== null}
        title="Revoke grant"
        action="Revoke grant"
        danger
        onClose={() => setRevoking(null)}
        onConfirm={async (reason) => {
          if (!revoking) return;
          await api('POST', `/api/v1/grants/${revoking.id}/revoke`, { reason });
          grants.reload();
        }}
      >
        {revoking && <p>{describe(revoking)}: decisions stop using it at once.</p>}
      </ReasonDialog>
    </div>
  );
}

function AddGrantDialog({
  agentId,
  open,
  onClose,
  onAdded,
}: {
  agentId: string;
  open: boolean;
  onClose: () => void;
  onAdded: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const text = (k: string) => String(f.get(k) ?? '').trim();
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/api/v1/grants', {
        principal: { type: 'Agent', id: agentId },
        action: text('action'),
        resource: { type: text('resourceType'), id: text('resourceId') },
        scope: f.get('scope') === 'on' ? 'in' : 'eq',
        ...(text('condition') ? { condition: text('condition') } : {}),
        ...(text('expiresAt') ? { expiresAt: new Date(text('expiresAt')).toISOString() } : {}),
        reason: text('reason'),
      });
      onAdded();
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Modal open={open} title="Add a grant" onClose={onClose}>
      <form className="form" onSubmit={submit}>
        <label className="field">
          <span>Action</span>
          <input name="action" required placeholder="tools/call" list="grant-actions" />
          <datalist id="grant-actions">
            <option value="tools/call" />
            <option value="resources/read" />
            <option value="prompts/get" />
            <option value="http:GET" />
            <option value="http:POST" />
            <option value="token:issue" />
          </datalist>
        </label>
        <div className="inline">
          <label className="field">
            <span>Resource type</span>
            <input name="resourceType" required placeholder="Tool" />
          </label>
          <label className="field grow">
            <span>Resource id</span>
            <input name="resourceId" required placeholder="billing/create_invoice" />
          </label>
        </div>
        <label className="check">
          <input type="checkbox" name="scope" /> Also everything inside this resource (e.g. every tool of a
          server)
        </label>
        <label className="field">
          <span>Condition (Cedar expression, optional)</span>
          <input name="condition" className="mono" placeholder="context.input.amount < 1000" />
        </label>
        <label className="field">
          <span>Until (optional)</span>
          <input name="expiresAt" type="datetime-local" />
        </label>
        <label className="field">
          <span>Reason (recorded in the audit log)</span>
          <input name="reason" required />
        </label>
        {error !== null && <ErrorNotice error={error} />}
        <div className="actions">
          <button type="submit" disabled={busy} aria-busy={busy}>
            {busy ? 'Granting…' : 'Add grant'}
          </button>
          <button type="button" className="secondary" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Modal>
  );
}
