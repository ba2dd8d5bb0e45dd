import { type ReactNode, useState } from 'react';
import { api } from '../api/client.js';
import type { HttpApi, McpServer } from '../api/types.js';
import { relative, when } from '../lib/format.js';
import { type AsyncState, useAsync } from '../lib/use-async.js';
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

      <UpstreamSection title="MCP servers" state={servers} none="No MCP servers">
        {(m: McpServer) => (
          <UpstreamCard
            key={m.name}
            kind="server"
            name={m.name}
            description={m.description}
            onRemove={s.isAdmin ? () => setRemoval({ kind: 'servers', name: m.name }) : null}
            actions={
              s.isAdmin && (
                <button
                  type="button"
                  className="secondary small"
                  disabled={refreshing === m.name}
                  aria-busy={refreshing === m.name}
                  onClick={() => void refresh(m.name)}
                >
                  {refreshing === m.name ? 'Refreshing…' : 'Refresh tools'}
                </button>
              )
            }
            meta={
              <>
                {m.transport.type === 'http'
                  ? `Streamable HTTP ${m.transport.url}`
                  : `stdio: ${m.transport.command}`}{' '}
                · upstream auth:{' '}
                {m.transport.type === 'stdio' ? secretEnvText(m.transport) : authText(m.auth)} · limits:{' '}
                {limitsText(m.limits)} · agents' tokens for <code>{m.resource}</code>
                {m.catalogUpdatedAt ? ` · tools listed ${relative(m.catalogUpdatedAt)}` : ''}
              </>
            }
            columns={['Tool', 'Arguments (Cedar types)', 'Entity']}
          >
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
          </UpstreamCard>
        )}
      </UpstreamSection>

      <UpstreamSection title="HTTP APIs" state={apis} none="No HTTP APIs">
        {(a: HttpApi) => (
          <UpstreamCard
            key={a.name}
            kind="api"
            name={a.name}
            description={a.description}
            onRemove={s.isAdmin ? () => setRemoval({ kind: 'apis', name: a.name }) : null}
            meta={
              <>
                {a.baseUrl} · upstream auth: {authText(a.auth)} · limits: {limitsText(a.limits)} · agents'
                tokens for <code>{a.resource}</code> · registered{' '}
                <span title={when(a.createdAt)}>{relative(a.createdAt)}</span>
              </>
            }
            columns={['Route', 'Entity']}
          >
            {a.routes.map((r) => (
              <tr key={`${r.method} ${r.path}`}>
                <td className="mono">
                  {r.method} {r.path}
                </td>
                <td className="mono small">{r.entity}</td>
              </tr>
            ))}
          </UpstreamCard>
        )}
      </UpstreamSection>

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

/** One kind of upstream: its heading, then a card each, or why there is none to show. */
function UpstreamSection<T>({
  title,
  state,
  none,
  children,
}: {
  title: string;
  state: AsyncState<{ items: T[] }>;
  none: string;
  children: (item: T) => ReactNode;
}) {
  return (
    <>
      <h2>{title}</h2>
      {state.error !== null && <ErrorNotice error={state.error} onRetry={state.reload} />}
      {state.loading && state.slow && <Loading />}
      {state.data && state.data.items.length === 0 && (
        <Empty title={none}>None is registered behind the gateway.</Empty>
      )}
      {state.data?.items.map(children)}
    </>
  );
}

/** An MCP server or HTTP API: its name, admin actions, description, one line of facts, and its table. */
function UpstreamCard({
  kind,
  name,
  description,
  onRemove,
  actions,
  meta,
  columns,
  children,
}: {
  kind: 'server' | 'api';
  name: string;
  description: string;
  /** Null when the signed-in role may not remove it. */
  onRemove: (() => void) | null;
  actions?: ReactNode;
  meta: ReactNode;
  columns: readonly string[];
  children: ReactNode;
}) {
  const id = `${kind}-${name}`;
  return (
    <article className="card" data-upstream={id} aria-labelledby={id}>
      <div className="page-head">
        <h3 id={id}>
          <code>{name}</code>
        </h3>
        {(actions || onRemove) && (
          <div className="row-actions">
            {actions}
            {onRemove && (
              <button type="button" className="secondary small" onClick={onRemove}>
                Remove…
              </button>
            )}
          </div>
        )}
      </div>
      {description && <p>{description}</p>}
      <p className="muted small">{meta}</p>
      <div className="table-wrap">
        <table className="data">
          <caption className="sr-only">
            {kind === 'server' ? 'Tools' : 'Routes'} of {name}
          </caption>
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c} scope="col">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>{children}</tbody>
        </table>
      </div>
    </article>
  );
}
