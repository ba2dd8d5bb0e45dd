import { type FormEvent, useState } from 'react';
import { ApiError, api } from '../api/client.js';
import type { Agent, AgentKey, FederatedIssuer } from '../api/types.js';
import { relative, when } from '../lib/format.js';
import { useAsync } from '../lib/use-async.js';
import { Badge, Empty, ErrorNotice, Loading } from '../ui/feedback.js';
import { Modal } from '../ui/modal.js';
import { ReasonDialog } from '../ui/reason-dialog.js';
import { useSession } from '../ui/session.js';

/** The agent's public keys (add, revoke) and the workload identities federated to it. */
export function AgentCredentials({ agent }: { agent: Agent }) {
  const s = useSession();
  const keys = useAsync(() => api<{ items: AgentKey[] }>('GET', `/api/v1/agents/${agent.id}/keys`), [agent]);
  const issuers = useAsync(
    () => api<{ items: FederatedIssuer[] }>('GET', '/api/v1/federation/issuers'),
    [agent.id],
  );
  const [adding, setAdding] = useState(false);
  const [revoking, setRevoking] = useState<AgentKey | null>(null);
  const writable = s.canManageAgents && agent.status !== 'decommissioned';
  const federated = (issuers.data?.items ?? []).flatMap((f) =>
    f.rules.filter((r) => r.agent === agent.id).map((r) => ({ issuer: f.issuer, claims: r.claims })),
  );

  return (
    <div className="grid two">
      <section className="card" aria-labelledby="keys-title">
        <div className="section-head">
          <h2 id="keys-title">Keys</h2>
          {writable && (
            <button type="button" className="small" onClick={() => setAdding(true)}>
              Add key
            </button>
          )}
        </div>
        {keys.error !== null && <ErrorNotice error={keys.error} onRetry={keys.reload} />}
        {keys.loading && keys.slow && <Loading />}
        {keys.data && keys.data.items.length === 0 && (
          <Empty title="No keys">
            The agent authenticates with a registered public key (private_key_jwt).
          </Empty>
        )}
        {keys.data && keys.data.items.length > 0 && (
          <ul className="plain">
            {keys.data.items.map((k) => (
              <li key={k.kid} className="row">
                <div>
                  <code>{k.kid}</code> <Badge value={k.status} /> <span className="muted small">{k.alg}</span>
                  <div className="muted small">
                    added {when(k.createdAt)} · expires {relative(k.expiresAt)}
                  </div>
                </div>
                {writable && k.status === 'active' && (
                  <button type="button" className="secondary small" onClick={() => setRevoking(k)}>
                    Revoke
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section className="card" aria-labelledby="fed-title">
        <h2 id="fed-title">Federated identities</h2>
        {issuers.error instanceof ApiError && issuers.error.status === 403 ? (
          <p className="muted">Workload issuers are visible to admins and auditors.</p>
        ) : issuers.error !== null ? (
          <ErrorNotice error={issuers.error} onRetry={issuers.reload} />
        ) : federated.length === 0 ? (
          issuers.data && (
            <Empty title="No federated identity">No trusted issuer maps a workload to this agent.</Empty>
          )
        ) : (
          <ul className="plain">
            {federated.map((f) => (
              <li key={`${f.issuer}${JSON.stringify(f.claims)}`}>
                <code>{f.issuer}</code>
                <div className="muted small">
                  {Object.entries(f.claims)
                    .map(([k, v]) => `${k} = ${v}`)
                    .join(', ')}
                </div>
              </li>
            ))}
          </ul>
        )}
      </section>
      <AddKeyDialog agentId={agent.id} open={adding} onClose={() => setAdding(false)} onAdded={keys.reload} />
      <ReasonDialog
        open={revoking !== null}
        title={`Revoke key ${revoking?.kid ?? ''}`}
        action="Revoke key"
        danger
        withReason={false}
        onClose={() => setRevoking(null)}
        onConfirm={async () => {
          if (!revoking) return;
          await api('DELETE', `/api/v1/agents/${agent.id}/keys/${encodeURIComponent(revoking.kid)}`);
          keys.reload();
        }}
      >
        <p>Tokens obtained with this key stop working at once.</p>
      </ReasonDialog>
    </div>
  );
}

function AddKeyDialog({
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
  const [jwk, setJwk] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(jwk);
    } catch {
      setError(new Error('The key must be a JSON object (a public JWK).'));
      return;
    }
    setBusy(true);
    try {
      await api('POST', `/api/v1/agents/${agentId}/keys`, { jwk: parsed });
      setJwk('');
      onAdded();
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Modal open={open} title="Add a public key" onClose={onClose}>
      <form className="form" onSubmit={submit}>
        <label className="field">
          <span>Public JWK (JSON)</span>
          <textarea
            name="jwk"
            rows={6}
            className="mono"
            spellCheck={false}
            required
            value={jwk}
            onChange={(e) => setJwk(e.target.value)}
            placeholder='{"kty":"EC","crv":"P-256","x":"…","y":"…"}'
          />
        </label>
        <p className="muted small">
          Only the public key: never paste a private key (with a `d` member) here.
        </p>
        {error !== null && <ErrorNotice error={error} />}
        <div className="actions">
          <button type="submit" disabled={busy} aria-busy={busy}>
            {busy ? 'Adding…' : 'Add key'}
          </button>
          <button type="button" className="secondary" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Modal>
  );
}
