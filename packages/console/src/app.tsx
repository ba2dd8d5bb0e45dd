import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiError, api, setCsrfToken, whenSignedOut } from './api/client.js';
import type { Approval, Page, Session } from './api/types.js';
import { COUNTS_CHANGED } from './lib/counts.js';
import { Link, useLocation } from './lib/router.js';
import { AgentDetailPage } from './pages/agent-detail.js';
import { AgentNewPage } from './pages/agent-new.js';
import { AgentsPage } from './pages/agents.js';
import { ApprovalsPage } from './pages/approvals.js';
import { AuditPage } from './pages/audit.js';
import { ConsentsPage } from './pages/consents.js';
import { DashboardPage } from './pages/dashboard.js';
import { FindingsPage } from './pages/findings.js';
import { GatewayPage } from './pages/gateway.js';
import { PoliciesPage } from './pages/policies.js';
import { SignInPage } from './pages/sign-in.js';
import { ErrorNotice, Loading } from './ui/feedback.js';
import { SessionContext, sessionInfo, useSession } from './ui/session.js';

type Auth =
  | { state: 'checking' }
  | { state: 'signed-out'; ended: boolean }
  | { state: 'signed-in'; session: Session };

/** The whole console: who is signed in decides between the sign-in page and the app. */
export function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  const [fatal, setFatal] = useState<unknown>(null);

  const accept = useCallback((session: Session) => {
    setCsrfToken(session.csrfToken);
    setAuth({ state: 'signed-in', session });
  }, []);

  useEffect(() => {
    whenSignedOut(() => {
      setCsrfToken(null);
      setAuth({ state: 'signed-out', ended: true });
    });
    api<Session>('GET', '/api/v1/session').then(accept, (error: unknown) => {
      if (error instanceof ApiError && error.status === 401) setAuth({ state: 'signed-out', ended: false });
      else setFatal(error);
    });
  }, [accept]);

  const signOut = useCallback(async () => {
    try {
      await api('DELETE', '/api/v1/session');
    } finally {
      setCsrfToken(null);
      setAuth({ state: 'signed-out', ended: false });
    }
  }, []);

  const info = useMemo(
    () => (auth.state === 'signed-in' ? sessionInfo(auth.session, signOut) : null),
    [auth, signOut],
  );

  if (fatal) {
    return (
      <main className="center">
        <ErrorNotice error={fatal} onRetry={() => window.location.reload()} />
      </main>
    );
  }
  if (auth.state === 'checking') {
    return (
      <main className="center">
        <Loading label="Opening the console…" />
      </main>
    );
  }
  if (auth.state === 'signed-out' || !info) {
    return <SignInPage onSignedIn={accept} ended={auth.state === 'signed-out' && auth.ended} />;
  }
  return (
    <SessionContext.Provider value={info}>
      <Shell />
    </SessionContext.Provider>
  );
}

const NAV = [
  { to: '/', label: 'Dashboard', match: (p: string) => p === '/' },
  { to: '/agents', label: 'Agents', match: (p: string) => p.startsWith('/agents') },
  { to: '/findings', label: 'Findings', match: (p: string) => p.startsWith('/findings') },
  { to: '/approvals', label: 'Approvals', match: (p: string) => p.startsWith('/approvals') },
  { to: '/consents', label: 'Consents', match: (p: string) => p.startsWith('/consents') },
  { to: '/gateway', label: 'Gateway', match: (p: string) => p.startsWith('/gateway'), readers: true },
  { to: '/policies', label: 'Policies', match: (p: string) => p.startsWith('/policies'), readers: true },
  { to: '/audit', label: 'Audit', match: (p: string) => p.startsWith('/audit'), readers: true },
];

/** A count for the navigation, read now and again every 15 s; null until known, when it cannot be read, or while `read` is null. */
function usePolledCount(read: (() => Promise<number>) | null): number | null {
  const [count, setCount] = useState<number | null>(null);
  useEffect(() => {
    if (read === null) return;
    let stopped = false;
    const poll = () =>
      read().then(
        (n) => {
          if (!stopped) setCount(n);
        },
        () => {
          if (!stopped) setCount(null);
        },
      );
    void poll();
    const timer = window.setInterval(() => void poll(), 15_000);
    // a page that changed what is counted asks for a fresh count at once
    const now = () => void poll();
    window.addEventListener(COUNTS_CHANGED, now);
    return () => {
      stopped = true;
      window.clearInterval(timer);
      window.removeEventListener(COUNTS_CHANGED, now);
    };
  }, [read]);
  return count;
}

/** How many findings are open. */
const readOpenFindings = () =>
  api<Page<{ id: string }>>('GET', '/api/v1/findings?status=open&limit=100').then(
    (page) => page.items.length,
  );

/** How many pending (unexpired, as the server says) approval requests `userId` decides. */
function readPendingApprovals(userId: string): Promise<number> {
  // (admins and auditors are sent everyone's: the most the API gives, then theirs)
  return api<{ items: Approval[] }>('GET', '/api/v1/approvals?status=pending&limit=500').then(
    (page) => page.items.filter((a) => a.approver === userId && a.status === 'pending').length,
  );
}

function Shell() {
  const { path } = useLocation();
  const s = useSession();
  const openFindings = usePolledCount(readOpenFindings);
  const userId = s.session.actor.userId;
  const readMine = useMemo(() => (userId === null ? null : () => readPendingApprovals(userId)), [userId]);
  const pendingApprovals = usePolledCount(readMine);
  const who = s.session.user?.email ?? s.session.actor.id;
  // biome-ignore lint/correctness/useExhaustiveDependencies: focus moves to the new page on every navigation
  useEffect(() => {
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [path]);
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/" className="brand">
          Custos
        </Link>
        <nav aria-label="Main">
          <ul className="nav-list">
            {NAV.filter((n) => !n.readers || s.canReadAudit).map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={n.match(path) ? 'page' : undefined}>
                  {n.label}
                  {n.to === '/findings' && openFindings !== null && openFindings > 0 && (
                    <span className="badge bad nav-count" data-testid="open-findings">
                      {openFindings >= 100 ? '100+' : openFindings}
                      <span className="sr-only"> open</span>
                    </span>
                  )}
                  {n.to === '/approvals' && pendingApprovals !== null && pendingApprovals > 0 && (
                    <span className="badge warn nav-count" data-testid="pending-approvals">
                      {pendingApprovals >= 100 ? '100+' : pendingApprovals}
                      <span className="sr-only"> waiting for you</span>
                    </span>
                  )}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="whoami">
          <span className="who" title={s.session.actor.id}>
            {who}
          </span>
          <span className={`badge role-${s.role}`} data-testid="role">
            {s.role}
          </span>
          <button type="button" className="secondary small" onClick={() => void s.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Route path={path} />
      </main>
    </div>
  );
}

function Route({ path }: { path: string }) {
  if (path === '/') return <DashboardPage />;
  if (path === '/agents') return <AgentsPage />;
  if (path === '/agents/new') return <AgentNewPage />;
  const agent = /^\/agents\/(agt_[0-9a-z]{26})$/.exec(path);
  if (agent?.[1]) return <AgentDetailPage id={agent[1]} />;
  if (path === '/findings') return <FindingsPage />;
  if (path === '/approvals') return <ApprovalsPage />;
  if (path === '/consents') return <ConsentsPage />;
  if (path === '/gateway') return <GatewayPage />;
  if (path === '/policies') return <PoliciesPage />;
  if (path === '/audit') return <AuditPage />;
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        There is no console page at <code>{path}</code>. <Link to="/">Go to the dashboard</Link>.
      </p>
    </section>
  );
}
