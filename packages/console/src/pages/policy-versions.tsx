import { useEffect, useState } from 'react';
import { api } from '../api/client.js';
import type { Page, PolicySet, PolicyVersion } from '../api/types.js';
import { diffLines, setText } from '../lib/diff.js';
import { when } from '../lib/format.js';
import { useAsync } from '../lib/use-async.js';
import { Empty, ErrorNotice, Loading } from '../ui/feedback.js';

/** Every policy, grant and schema change, newest first; any two versions of a set compared line by line. */
export function PolicyVersions() {
  const versions = useAsync(() => api<Page<PolicyVersion>>('GET', '/api/v1/policy-versions?limit=100'), []);
  const items = versions.data?.items ?? [];
  const [mode, setMode] = useState<'enforce' | 'shadow'>('enforce');
  const [to, setTo] = useState<number | null>(null);
  const [from, setFrom] = useState<number | null>(null);
  useEffect(() => {
    if (items.length === 0 || to !== null) return;
    setTo(items[0]?.version ?? null);
    setFrom(items[1]?.version ?? 0);
  }, [items, to]);
  const diff = useAsync(async () => {
    if (to === null || from === null) return null;
    const [a, b] = await Promise.all([
      from === 0
        ? Promise.resolve({ policies: [] as PolicySet['policies'] })
        : api<PolicySet>('GET', `/api/v1/policies?mode=${mode}&version=${from}`),
      api<PolicySet>('GET', `/api/v1/policies?mode=${mode}&version=${to}`),
    ]);
    return diffLines(setText(a.policies), setText(b.policies));
  }, [from, to, mode]);

  if (versions.error !== null) return <ErrorNotice error={versions.error} onRetry={versions.reload} />;
  if (!versions.data) return versions.slow ? <Loading /> : null;
  if (items.length === 0) return <Empty title="No policy changes yet" />;
  const changed = (diff.data ?? []).filter((l) => l.kind !== 'same').length;
  return (
    <div className="grid versions">
      <section className="card" aria-labelledby="versions-title">
        <h2 id="versions-title">Versions</h2>
        <div className="table-wrap">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Change</th>
                <th scope="col">Why</th>
                <th scope="col">Who, when</th>
              </tr>
            </thead>
            <tbody>
              {items.map((v) => (
                <tr key={v.version} aria-selected={v.version === to}>
                  <td>
                    <button type="button" className="link" onClick={() => setTo(v.version)}>
                      v{v.version}
                    </button>
                  </td>
                  <td>
                    {v.kind}
                    {v.mode ? ` (${v.mode})` : ''}
                  </td>
                  <td>{v.reason}</td>
                  <td className="small">
                    <span className="mono">{v.actor.id}</span>
                    <div className="muted">{when(v.at)}</div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section className="card" aria-labelledby="diff-title">
        <h2 id="diff-title">Diff</h2>
        <div className="inline">
          <label className="field">
            <span>Set</span>
            <select value={mode} onChange={(e) => setMode(e.target.value as 'enforce' | 'shadow')}>
              <option value="enforce">enforced</option>
              <option value="shadow">shadow</option>
            </select>
          </label>
          <label className="field">
            <span>From</span>
            <select value={from ?? 0} onChange={(e) => setFrom(Number(e.target.value))}>
              <option value={0}>empty</option>
              {items.map((v) => (
                <option key={v.version} value={v.version}>
                  v{v.version}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>To</span>
            <select value={to ?? 0} onChange={(e) => setTo(Number(e.target.value))}>
              {items.map((v) => (
                <option key={v.version} value={v.version}>
                  v{v.version}
                </option>
              ))}
            </select>
          </label>
        </div>
        {diff.error !== null && <ErrorNotice error={diff.error} />}
        {diff.loading && diff.slow && <Loading />}
        {diff.data && (
          <>
            <p className="muted small">
              {changed === 0 ? 'No difference.' : `${changed} changed line${changed === 1 ? '' : 's'}.`}
            </p>
            <pre className="diff" data-testid="diff">
              {diff.data.map((l, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: lines of a diff have no identity but their place
                <div key={i} className={`diff-${l.kind}`}>
                  <span aria-hidden="true">
                    {l.kind === 'added' ? '+ ' : l.kind === 'removed' ? '- ' : '  '}
                  </span>
                  {l.kind !== 'same' && <span className="sr-only">{l.kind}: </span>}
                  {l.text}
                </div>
              ))}
            </pre>
          </>
        )}
      </section>
    </div>
  );
}
