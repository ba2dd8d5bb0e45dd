import { type FormEvent, useEffect, useMemo, useState } from 'react';
import { ApiError, api } from '../api/client.js';
import type { PolicySet, ValidateResult } from '../api/types.js';
import { useAsync } from '../lib/use-async.js';
import { CodeEditor, type LineMark } from '../ui/code-editor.js';
import { Badge, Empty, ErrorNotice, Loading, Notice } from '../ui/feedback.js';
import { ReasonDialog } from '../ui/reason-dialog.js';
import { useSession } from '../ui/session.js';

type Mode = 'enforce' | 'shadow';
interface Draft {
  id: string;
  text: string;
}
interface Problem {
  policyId: string | null;
  line: number | null;
  message: string;
}

const TEMPLATE = `permit (
  principal == Agent::"agt_…",
  action == Action::"tools/call",
  resource == Tool::"server/tool"
);
`;

/** Maps the API's field problems (`/policies/<i>`, with line) to the draft policies. */
function problemsOf(errors: readonly { pointer: string; detail: string; line?: number }[], drafts: Draft[]) {
  return errors.map((e): Problem => {
    const m = /^\/policies\/(\d+)/.exec(e.pointer);
    const policy = m ? drafts[Number(m[1])] : undefined;
    return { policyId: policy?.id ?? null, line: e.line ?? null, message: e.detail };
  });
}

/**
 * The editor of the enforced or shadow set: every change is validated against
 * the schema (errors shown at their line) and saved as a new version with a
 * reason. Saving to the shadow set rolls a change out log-only; promote makes
 * it enforced.
 */
export function PolicyEditor({ onSaved }: { onSaved: () => void }) {
  const s = useSession();
  const [mode, setMode] = useState<Mode>('enforce');
  const [tick, setTick] = useState(0);
  const set = useAsync(() => api<PolicySet>('GET', `/api/v1/policies?mode=${mode}`), [mode, tick]);
  const shadow = useAsync(() => api<PolicySet>('GET', '/api/v1/policies?mode=shadow'), [tick]);
  const [drafts, setDrafts] = useState<Draft[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [problems, setProblems] = useState<Problem[] | null>(null);
  const [warnings, setWarnings] = useState<string[]>([]);
  const [target, setTarget] = useState<Mode>('enforce');
  const [saving, setSaving] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [promote, setPromote] = useState<'promote' | 'discard' | null>(null);
  const readOnly = !s.isAdmin;

  useEffect(() => {
    if (!set.data) return;
    const loaded = set.data.policies.map((p) => ({ id: p.id, text: p.text }));
    setDrafts(loaded);
    setSelected((old) => (old && loaded.some((p) => p.id === old) ? old : (loaded[0]?.id ?? null)));
    setProblems(null);
    setTarget(set.data.mode);
  }, [set.data]);

  const dirty = useMemo(() => {
    const base = set.data?.policies ?? [];
    return (
      base.length !== drafts.length ||
      base.some((p, i) => drafts[i]?.id !== p.id || drafts[i]?.text !== p.text)
    );
  }, [set.data, drafts]);
  const current = drafts.find((d) => d.id === selected) ?? null;
  const marks: LineMark[] = (problems ?? [])
    .filter((p) => p.policyId === selected)
    .map((p) => ({ line: p.line ?? 1, message: p.message }));

  function edit(text: string) {
    setDrafts((all) => all.map((d) => (d.id === selected ? { ...d, text } : d)));
    setProblems(null);
    setNotice(null);
  }

  async function validate() {
    setBusy('validate');
    setError(null);
    setNotice(null);
    try {
      const result = await api<ValidateResult>('POST', '/api/v1/policies/validate', { policies: drafts });
      const found = problemsOf(result.errors, drafts);
      setProblems(found);
      setWarnings(result.warnings.map((w) => (w.policyId ? `${w.policyId}: ${w.message}` : w.message)));
      if (found.length > 0 && found[0]?.policyId) setSelected(found[0].policyId);
      if (result.valid) setNotice('The set validates against the schema.');
      return result.valid;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(null);
    }
  }

  async function save(reason: string) {
    try {
      const result = await api<{ version: number; applied: boolean }>('PUT', '/api/v1/policies', {
        policies: drafts,
        mode: target,
        reason,
      });
      setNotice(
        result.applied
          ? `Saved to the ${target === 'shadow' ? 'shadow (log-only)' : 'enforced'} set as version ${result.version}.`
          : 'Nothing changed.',
      );
      setProblems([]);
      if (target !== mode) setMode(target);
      setTick((t) => t + 1);
      onSaved();
    } catch (err) {
      if (err instanceof ApiError && err.errors.length > 0) {
        const found = problemsOf(err.errors, drafts);
        setProblems(found);
        if (found[0]?.policyId) setSelected(found[0].policyId);
      }
      throw err;
    }
  }

  function addPolicy(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const id = String(new FormData(e.currentTarget).get('id') ?? '').trim();
    if (!id) return;
    if (drafts.some((d) => d.id === id)) {
      setError(new Error(`A policy \`${id}\` exists already.`));
      return;
    }
    setDrafts((all) => [...all, { id, text: TEMPLATE }]);
    setSelected(id);
    e.currentTarget.reset();
  }

  const shadowActive = shadow.data?.active ?? false;
  return (
    <div>
      <div className="toolbar">
        <fieldset className="segmented">
          <legend className="sr-only">Which set</legend>
          <label>
            <input
              type="radio"
              name="mode"
              checked={mode === 'enforce'}
              onChange={() => setMode('enforce')}
            />
            Enforced
          </label>
          <label>
            <input type="radio" name="mode" checked={mode === 'shadow'} onChange={() => setMode('shadow')} />
            Shadow (log-only){' '}
            {shadowActive ? <Badge value="active" /> : <span className="muted small">inactive</span>}
          </label>
        </fieldset>
        {set.data && <span className="muted">version {set.data.version}</span>}
        {s.isAdmin && shadowActive && (
          <span className="actions">
            <button type="button" className="small" onClick={() => setPromote('promote')}>
              Promote shadow to enforced
            </button>
            <button type="button" className="secondary small" onClick={() => setPromote('discard')}>
              Discard shadow
            </button>
          </span>
        )}
      </div>
      {readOnly && (
        <Notice kind="info">Read-only: your role ({s.role}) can validate and test, not save.</Notice>
      )}
      {set.error !== null && <ErrorNotice error={set.error} onRetry={set.reload} />}
      {set.loading && set.slow && <Loading />}
      {notice && <Notice kind="success">{notice}</Notice>}
      {error !== null && <ErrorNotice error={error} />}
      {set.data && (
        <div className="split">
          <aside className="card list" aria-label="Policies in this set">
            {drafts.length === 0 ? (
              <Empty title={mode === 'shadow' ? 'The shadow set is empty' : 'No policies'}>
                Without policies or grants every request is denied.
              </Empty>
            ) : (
              <ul className="select-list">
                {drafts.map((d) => {
                  const bad = (problems ?? []).some((p) => p.policyId === d.id);
                  return (
                    <li key={d.id}>
                      <button
                        type="button"
                        aria-current={d.id === selected ? 'true' : undefined}
                        className={bad ? 'has-problem' : undefined}
                        onClick={() => setSelected(d.id)}
                      >
                        {bad && <span className="sr-only">has problems: </span>}
                        {d.id}
                      </button>
                    </li>
                  );
                })}
              </ul>
            )}
            {!readOnly && (
              <form className="inline" onSubmit={addPolicy}>
                <label className="field grow">
                  <span>New policy id</span>
                  <input
                    name="id"
                    placeholder="allow-billing"
                    pattern="[A-Za-z0-9][A-Za-z0-9_.:/#@\-]{0,199}"
                  />
                </label>
                <button type="submit" className="secondary small">
                  Add
                </button>
              </form>
            )}
          </aside>
          <div className="card editor-pane">
            {current ? (
              <>
                <div className="section-head">
                  <h2>
                    <code>{current.id}</code>
                  </h2>
                  {!readOnly && (
                    <button
                      type="button"
                      className="secondary small"
                      onClick={() => {
                        setDrafts((all) => all.filter((d) => d.id !== current.id));
                        setSelected(null);
                      }}
                    >
                      Remove from set
                    </button>
                  )}
                </div>
                <CodeEditor
                  label={`Cedar text of policy ${current.id}`}
                  value={current.text}
                  onChange={edit}
                  readOnly={readOnly}
                  marks={marks}
                />
              </>
            ) : (
              <Empty title="Select a policy to see its text" />
            )}
            {problems?.some((p) => p.policyId !== selected) && (
              <div className="notice error" role="alert">
                <strong>Problems in other policies</strong>
                <ul>
                  {problems
                    .filter((p) => p.policyId !== selected)
                    .map((p) => (
                      <li key={`${p.policyId}:${p.line}:${p.message}`}>
                        {p.policyId ? (
                          <button type="button" className="link" onClick={() => setSelected(p.policyId)}>
                            {p.policyId}
                            {p.line ? `, line ${p.line}` : ''}
                          </button>
                        ) : null}
                        : {p.message}
                      </li>
                    ))}
                </ul>
              </div>
            )}
            {warnings.length > 0 && (
              <Notice kind="warning">
                <strong>Validator warnings</strong>
                <ul>
                  {warnings.map((w) => (
                    <li key={w}>{w}</li>
                  ))}
                </ul>
              </Notice>
            )}
            <div className="actions">
              <button
                type="button"
                className="secondary"
                onClick={() => void validate()}
                disabled={busy !== null}
              >
                {busy === 'validate' ? 'Validating…' : 'Validate'}
              </button>
              {!readOnly && (
                <>
                  <label className="field inline-field">
                    <span>Save to</span>
                    <select value={target} onChange={(e) => setTarget(e.target.value as Mode)}>
                      <option value="enforce">enforced set</option>
                      <option value="shadow">shadow set (log-only)</option>
                    </select>
                  </label>
                  <button
                    type="button"
                    disabled={busy !== null || (!dirty && target === mode)}
                    onClick={async () => {
                      if (await validate()) setSaving(true);
                    }}
                  >
                    Save…
                  </button>
                </>
              )}
              {dirty && <span className="muted small">unsaved changes</span>}
            </div>
          </div>
        </div>
      )}
      <ReasonDialog
        open={saving}
        title={`Save to the ${target === 'shadow' ? 'shadow (log-only)' : 'enforced'} set`}
        action="Save"
        onClose={() => setSaving(false)}
        onConfirm={save}
      >
        <p>
          {target === 'shadow'
            ? 'Decisions keep using the enforced set; the audit log records what this set would have decided.'
            : 'The set decides from the next request on, on every node.'}
        </p>
      </ReasonDialog>
      <ReasonDialog
        open={promote !== null}
        title={promote === 'promote' ? 'Promote the shadow set' : 'Discard the shadow set'}
        action={promote === 'promote' ? 'Promote' : 'Discard'}
        danger={promote === 'discard'}
        onClose={() => setPromote(null)}
        onConfirm={async (reason) => {
          await api('POST', `/api/v1/policies/shadow/${promote}`, { reason });
          setNotice(
            promote === 'promote' ? 'The shadow set is now enforced.' : 'The shadow set was discarded.',
          );
          setTick((t) => t + 1);
          onSaved();
        }}
      />
    </div>
  );
}
