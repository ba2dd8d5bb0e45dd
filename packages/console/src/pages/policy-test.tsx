import { type FormEvent, useState } from 'react';
import { api } from '../api/client.js';
import type { TestResult } from '../api/types.js';
import { Badge, ErrorNotice } from '../ui/feedback.js';

/** Asks the engine one question — may this principal do this action on this resource? — and shows why. */
export function PolicyTest() {
  const [result, setResult] = useState<(TestResult['results'][number] & { version: number }) | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const text = (k: string) => String(f.get(k) ?? '').trim();
    setError(null);
    setResult(null);
    let context: unknown;
    try {
      context = text('context') ? JSON.parse(text('context')) : undefined;
    } catch {
      setError(new Error('The context must be a JSON object, e.g. {"input": {"amount": 10}}.'));
      return;
    }
    setBusy(true);
    try {
      const answer = await api<TestResult>('POST', '/api/v1/policies/test', {
        cases: [
          {
            name: 'console',
            subject: { type: text('principalType'), id: text('principalId') },
            action: { name: text('action') },
            resource: { type: text('resourceType'), id: text('resourceId') },
            ...(context !== undefined ? { context } : {}),
            expect: 'allow',
          },
        ],
      });
      const first = answer.results[0];
      if (first) setResult({ ...first, version: answer.version });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="grid two">
      <form className="card form" onSubmit={submit} aria-labelledby="test-title">
        <h2 id="test-title">Test a request</h2>
        <p className="muted small">
          Against the enforced set, with the current grants and entities. Nothing is stored.
        </p>
        <div className="inline">
          <label className="field">
            <span>Principal type</span>
            <input name="principalType" defaultValue="Agent" required />
          </label>
          <label className="field grow">
            <span>Principal id</span>
            <input name="principalId" required placeholder="agt_…" />
          </label>
        </div>
        <label className="field">
          <span>Action</span>
          <input name="action" required defaultValue="tools/call" />
        </label>
        <div className="inline">
          <label className="field">
            <span>Resource type</span>
            <input name="resourceType" defaultValue="Tool" required />
          </label>
          <label className="field grow">
            <span>Resource id</span>
            <input name="resourceId" required placeholder="server/tool" />
          </label>
        </div>
        <label className="field">
          <span>Context (JSON, optional)</span>
          <textarea name="context" rows={3} className="mono" placeholder='{"input": {"amount": 10}}' />
        </label>
        <div className="actions">
          <button type="submit" disabled={busy} aria-busy={busy}>
            {busy ? 'Deciding…' : 'Decide'}
          </button>
        </div>
      </form>
      <section className="card" aria-labelledby="decision-title" aria-live="polite">
        <h2 id="decision-title">Decision</h2>
        {error !== null && <ErrorNotice error={error} />}
        {!result && error === null && <p className="muted">Fill in the request and press Decide.</p>}
        {result && (
          <div data-testid="decision">
            <p className={`decision ${result.actual}`}>
              <Badge value={result.actual} /> {result.actual === 'allow' ? 'Allowed' : 'Denied'}{' '}
              <span className="muted small">(policy version {result.version})</span>
            </p>
            <h3>Deciding policies</h3>
            {result.policies.length === 0 ? (
              <p className="muted">
                {result.actual === 'deny' ? 'None: no policy permits it (default deny).' : 'None.'}
              </p>
            ) : (
              <ul>
                {result.policies.map((p) => (
                  <li key={p}>
                    <code>{p}</code>
                  </li>
                ))}
              </ul>
            )}
            {result.errors.length > 0 && (
              <>
                <h3>Evaluation errors (an error denies)</h3>
                <ul>
                  {result.errors.map((e) => (
                    <li key={`${e.policyId}:${e.message}`}>
                      {e.policyId && <code>{e.policyId}</code>} {e.message}
                    </li>
                  ))}
                </ul>
              </>
            )}
          </div>
        )}
      </section>
    </div>
  );
}
