import { useState } from 'react';
import { api } from '../api/client.js';
import type { HttpApi, McpServer } from '../api/types.js';
import { relative, when } from '../lib/format.js';
import { useAsync } from '../lib/use-async.js';
import { Empty, ErrorNotice, Loading } from '../ui/feedback.js';
import { ReasonDialog } from '../ui/reason-dialog.js';
import { useSession } from '../ui/session.js';

type Removal = { kind: 'servers' | 'apis'; name: string } | null;

/** How a stdio server gets its credentials: environment variables from vault secrets (names only). */
function secretEnvText(transport: McpServer['transport']): string {
  if (transport.type !== 'stdio') return '';
  const pairs = Object.entries(transport.secretEnv ?? {});
  return pairs.length === 0
    ? 'none'
    : pairs.map(([variable, secret]) => `${variable} from secret ${secret}`).join(', ');
}

/** How the gateway authenticates to an upstream, in words (secret names only: values never leave the vault). */
function authText(auth: Record<string, unknown>): string {
  switch (auth.type) {
    case 'none':
      return 'none';
    case 'header':
      return `header ${String(auth.header)} from secret ${String(auth.secret)}`;
    case 'bearer':
      return `bearer token from secret ${String(auth.secret)}`;
    case 'oauth_client_credentials':
      return `OAuth client credentials at ${String(auth.tokenUrl)} as ${String(auth.clientId)}, secret ${String(auth.clientSecret)}`;
    default:
      return String(auth.type ?? 'unknown');
  }
}

/** Rate limits as the registration set them, in words. */
function limitsText(limits: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(limits ?? {})) {
    if (typeof value !== 'object' || value === null) continue;
    const { rate, burst } = value as { rate?: unknown; burst?: unknown };
    parts.push(
      `${name === 'perAgent' ? 'per agent' : name === 'perTool' ? 'per tool or route' : name}: ${String(rate)}/s, burst ${String(burst)}`,
    );
  }
  return parts.length > 0 ? parts.join(' · ') : 'no limit of its own';
}

/**
 * What the gateway fronts: MCP servers (with their tools and the Cedar types
 * of their arguments, as policies see them) and HTTP APIs (with their routes).
 * Admins and auditors read it; admins refresh a server's tools or remove an
 * upstream. Registering one stays with the CLI and API (`custos gateway`).
 */
export function GatewayPage() {
  const s = useSession();
  const [removal, setRemoval] = useState<Removal>(null);
  const [refreshing, setRefreshing] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [warnings, setWarnings] = useState<readonly string[]>([]);
  const servers = useAsync(() => api<{ items: McpServer[] }>('GET', '/api/v1/gateway/servers'), []);
  const apis = useAsync(() => api<{ items: HttpApi[] }>('GET', '/api/v1/gateway/apis'), []);

  async function refresh(name: string) {
    setActionError(null);
    setRefreshing(name);
    try {
      const refreshed = await api<{ sync?: { warnings: string[] } }>(
        'POST',
        `/api/v1/gateway/servers/${encodeURIComponent(name)}/refresh`,
        {},
      );
      setWarnings(refreshed.sync?.warnings ?? []);
      servers.reload();
    } catch (err) {
      setActionError(err);
    } finally {
      setRefreshing(null);
    }
  }

  return (
    <section aria-labelledby="gateway-title">
      <div className="page-head">
        <h1 id="gateway-title">Gateway</h1>
      </div>
      <p className="muted">
        The MCP servers and HTTP APIs agents reach through Custos. Each call is authenticated, decided per
        tool or route, rate-limited and recorded, and made with a credential from the vault that the agent
        never sees. Register upstreams with <code>custos gateway server add</code> and{' '}
        <code>custos gateway api add</code>.
      </p>
      {actionError !== null && <ErrorNotice error={actionError} />}
      {warnings.length > 0 && (
        <div className="card" role="status">
          <p>The tools were listed again; the policies' schema changed with them:</p>
          <ul>
            {warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </div>
      )}

      <h2>MCP servers</h2>
      {servers.error !== null && <ErrorNotice error={servers.error} onRetry={servers.reload} />}
      {servers.loading && servers.slow && <Loading />}
      {servers.data && servers.data.items.length === 0 && (
        <Empty title="No MCP servers">None is registered behind the gateway.</Empty>
      )}
      {servers.data?.items.map((m) => (
        <article key={m.name} className="card" data-server={m.name} aria-labelledby={`server-${m.name}`}>
          <div className="page-head">
            <h3 id={`server-${m.name}`}>
              <code>{m.name}</code>
            </h3>
            {s.isAdmin && (
              <div className="row-actions">
                <button
                  type="button"
                  className="secondary small"
                  disabled={refreshing === m.name}
                  aria-busy={refreshing === m.name}
                  onClick={() => void refresh(m.name)}
                >
                  {refreshing === m.name ? 'Refreshing…' : 'Refresh tools'}
                </button>
                <button
                  type="button"
                  className="secondary small"
                  onClick={() => setRemoval({ kind: 'servers', name: m.name })}
                >
                  Remove…
                </button>
              </div>
            )}
          </div>
          {m.description && <p>{m.description}</p>}
          <p className="muted small">
            {m.transport.type === 'http'
              ? `Streamable HTTP ${m.transport.url}`
              : `stdio: ${m.transport.command}`}{' '}
            · upstream auth: {m.transport.type === 'stdio' ? secretEnvText(m.transport) : authText(m.auth)} ·
            limits: {limitsText(m.limits)} · agents' tokens for <code>{m.resource}</code>
            {m.catalogUpdatedAt ? ` · tools listed ${relative(m.catalogUpdatedAt)}` : ''}
          </p>
          <div className="table-wrap">
            <table className="data">
              <caption className="sr-only">Tools of {m.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Tool</th>
                  <th scope="col">Arguments (Cedar types)</th>
                  <th scope="col">Entity</th>
                </tr>
              </thead>
              <tbody>
                {m.tools.map((t) => (
                  <tr key={t.name}>
                    <td>
                      <code>{t.name}</code>
                      {t.description && <div className="muted small">{t.description}</div>}
                    </td>
                    <td className="mono small">
                      {Object.entries(t.arguments)
                        .map(([name, type]) => `${name}: ${type}`)
                        .join(', ') || '—'}
                    </td>
                    <td className="mono small">{t.entity}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </article>
      ))}

      <h2>HTTP APIs</h2>
      {apis.error !== null && <ErrorNotice error={apis.error} onRetry={apis.reload} />}
      {apis.loading && apis.slow && <Loading />}
      {apis.data && apis.data.items.length === 0 && (
        <Empty title="No HTTP APIs">None is registered behind the gateway.</Empty>
      )}
      {apis.data?.items.map((a) => (
        <article key={a.name} className="card" data-api={a.name} aria-labelledby={`api-${a.name}`}>
          <div className="page-head">
            <h3 id={`api-${a.name}`}>
              <code>{a.name}</code>
            </h3>
            {s.isAdmin && (
              <div className="row-actions">
                <button
                  type="button"
                  className="secondary small"
                  onClick={() => setRemoval({ kind: 'apis', name: a.name })}
                >
                  Remove…
                </button>
              </div>
            )}
          </div>
          {a.description && <p>{a.description}</p>}
          <p className="muted small">
            {a.baseUrl} · upstream auth: {authText(a.auth)} · limits: {limitsText(a.limits)} · agents' tokens
            for <code>{a.resource}</code> · registered{' '}
            <span title={when(a.createdAt)}>{relative(a.createdAt)}</span>
          </p>
          <div className="table-wrap">
            <table className="data">
              <caption className="sr-only">Routes of {a.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Route</th>
                  <th scope="col">Entity</th>
                </tr>
              </thead>
              <tbody>
                {a.routes.map((r) => (
                  <tr key={`${r.method} ${r.path}`}>
                    <td className="mono">
                      {r.method} {r.path}
                    </td>
                    <td className="mono small">{r.entity}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </article>
      ))}

      <ReasonDialog
        open={removal !== null}
        title={removal?.kind === 'servers' ? 'Remove the MCP server' : 'Remove the HTTP API'}
        action="Remove"
        danger
        withReason={false}
        confirmPhrase={removal?.name}
        onClose={() => setRemoval(null)}
        onConfirm={async () => {
          if (!removal) return;
          await api('DELETE', `/api/v1/gateway/${removal.kind}/${encodeURIComponent(removal.name)}`);
          if (removal.kind === 'servers') servers.reload();
          else apis.reload();
        }}
      >
        <p>
          Agents can no longer reach <code>{removal?.name}</code> through the gateway; its open sessions end.
          Policies that name it stay, and apply again if it is registered again.
        </p>
      </ReasonDialog>
    </section>
  );
}
