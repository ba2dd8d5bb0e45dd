import { useState } from 'react';
import { setSearch, useLocation } from '../lib/router.js';
import { useSession } from '../ui/session.js';
import { PolicyEditor } from './policy-editor.js';
import { PolicyTest } from './policy-test.js';
import { PolicyVersions } from './policy-versions.js';

const TABS = [
  { id: 'editor', label: 'Policy set' },
  { id: 'versions', label: 'Versions and diff' },
  { id: 'test', label: 'Test a request' },
] as const;
type Tab = (typeof TABS)[number]['id'];

/** Policies: the current set with its editor, its versions with a diff, and a decision tester. */
export function PoliciesPage() {
  const s = useSession();
  const { search } = useLocation();
  const tab: Tab = (TABS.find((t) => t.id === search.get('tab'))?.id ?? 'editor') as Tab;
  const [version, setVersion] = useState(0);
  const select = (id: Tab) => {
    const next = new URLSearchParams(search);
    next.set('tab', id);
    setSearch(next);
  };
  if (!s.canReadPolicies) {
    return (
      <section>
        <h1>Policies</h1>
        <p>Policies are visible to admins and auditors.</p>
      </section>
    );
  }
  return (
    <section aria-labelledby="policies-title">
      <h1 id="policies-title">Policies</h1>
      <div className="tabs" role="tablist" aria-label="Policy views">
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={tab === t.id ? 0 : -1}
            onClick={() => select(t.id)}
            onKeyDown={(e) => {
              const i = TABS.findIndex((x) => x.id === tab);
              const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
              if (step === 0) return;
              const next = TABS[(i + step + TABS.length) % TABS.length];
              if (next) {
                select(next.id);
                requestAnimationFrame(() => document.getElementById(`tab-${next.id}`)?.focus());
              }
            }}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === 'editor' && <PolicyEditor onSaved={() => setVersion((v) => v + 1)} />}
        {tab === 'versions' && <PolicyVersions key={version} />}
        {tab === 'test' && <PolicyTest />}
      </div>
    </section>
  );
}
