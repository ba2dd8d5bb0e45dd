import { type FormEvent, useState } from 'react';
import { api } from '../api/client.js';
import type { Agent } from '../api/types.js';
import { Link, navigate } from '../lib/router.js';
import { ErrorNotice } from '../ui/feedback.js';
import { apiFieldError, Field } from '../ui/field.js';
import { useSession } from '../ui/session.js';

function parseTags(text: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const part of text.split(/[\n,]/)) {
    const t = part.trim();
    if (!t) continue;
    const at = t.indexOf('=');
    if (at <= 0) throw new Error(`tag \`${t}\` must be key=value`);
    tags[t.slice(0, at).trim()] = t.slice(at + 1).trim();
  }
  return tags;
}

/** Registers an agent; owners can only name themselves as the owner. */
export function AgentNewPage() {
  const s = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const fieldError = (name: string) => apiFieldError(error, name);

  if (!s.canManageAgents) {
    return (
      <section>
        <h1>New agent</h1>
        <ErrorNotice error={new Error('Your role (auditor) can read the inventory but not change it.')} />
      </section>
    );
  }

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const text = (k: string) => String(f.get(k) ?? '').trim();
    setError(null);
    setBusy(true);
    try {
      const body = {
        name: text('name'),
        owner: s.role === 'owner' ? (s.session.user?.id ?? s.session.actor.userId ?? '') : text('owner'),
        ...(text('team') ? { team: text('team') } : {}),
        ...(text('purpose') ? { purpose: text('purpose') } : {}),
        ...(text('environment') ? { environment: text('environment') } : {}),
        riskLevel: text('riskLevel') || 'medium',
        ...(text('tags') ? { tags: parseTags(text('tags')) } : {}),
        ...(text('expiresAt') ? { expiresAt: new Date(`${text('expiresAt')}T23:59:59Z`).toISOString() } : {}),
      };
      const agent = await api<Agent>('POST', '/api/v1/agents', body);
      navigate(`/agents/${agent.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="new-title">
      <p className="crumbs">
        <Link to="/agents">Agents</Link> /
      </p>
      <h1 id="new-title">New agent</h1>
      <form className="card form" onSubmit={submit} noValidate={false}>
        <Field name="name" label="Name" required error={fieldError('name')} hint="unique per environment" />
        {s.role === 'owner' ? (
          <p className="muted">Owner: {s.session.user?.email ?? 'you'}</p>
        ) : (
          <Field name="owner" label="Owner (email or user id)" required error={fieldError('owner')} />
        )}
        <Field name="team" label="Team" error={fieldError('team')} />
        <label className="field">
          <span>Purpose</span>
          <textarea name="purpose" rows={3} />
        </label>
        <Field
          name="environment"
          label="Environment"
          placeholder="default"
          error={fieldError('environment')}
        />
        <label className="field">
          <span>Risk level</span>
          <select name="riskLevel" defaultValue="medium">
            <option>low</option>
            <option>medium</option>
            <option>high</option>
            <option>critical</option>
          </select>
        </label>
        <Field name="tags" label="Tags" placeholder="env=prod, system=billing" error={fieldError('tags')} />
        <Field
          name="expiresAt"
          label="Expires on"
          type="date"
          hint="default: 90 days"
          error={fieldError('expiresAt')}
        />
        {error !== null && <ErrorNotice error={error} />}
        <div className="actions">
          <button type="submit" disabled={busy} aria-busy={busy}>
            {busy ? 'Creating…' : 'Create agent'}
          </button>
          <Link to="/agents" className="button secondary">
            Cancel
          </Link>
        </div>
      </form>
    </section>
  );
}
