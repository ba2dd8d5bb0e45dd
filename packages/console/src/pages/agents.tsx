import { type FormEvent, useMemo, useState } from 'react';
import { api, query } from '../api/client.js';
import type { Agent, Page } from '../api/types.js';
import { relative, when } from '../lib/format.js';
import { Link, setSearch, useLocation } from '../lib/router.js';
import { useAsync } from '../lib/use-async.js';
import { Badge, Empty, ErrorNotice, Loading } from '../ui/feedback.js';
import { Pager } from '../ui/pager.js';
import { useSession } from '../ui/session.js';

const FILTERS = ['q', 'status', 'environment', 'team', 'owner', 'tag'] as const;
type SortKey = 'name' | 'status' | 'environment' | 'riskLevel' | 'owner' | 'expiresAt';
const RISK_ORDER: Record<string, number> = { low: 0, medium: 1, high: 2, critical: 3 };
const COLUMNS: { key: SortKey; label: string }[] = [
  { key: 'name', label: 'Name' },
  { key: 'status', label: 'Status' },
  { key: 'environment', label: 'Environment' },
  { key: 'riskLevel', label: 'Risk' },
  { key: 'owner', label: 'Owner' },
  { key: 'expiresAt', label: 'Expires' },
];

function sortValue(a: Agent, key: SortKey): string | number {
  if (key === 'owner') return a.owner.email;
  if (key === 'riskLevel') return RISK_ORDER[a.riskLevel] ?? 0;
  if (key === 'expiresAt') return Date.parse(a.expiresAt);
  return a[key];
}

/** The inventory: search, filters (in the address, so a view can be shared), paging and sorting. */
export function AgentsPage() {
  const s = useSession();
  const { search } = useLocation();
  const filters = Object.fromEntries(FILTERS.map((f) => [f, search.get(f) ?? ''])) as Record<
    (typeof FILTERS)[number],
    string
  >;
  const limit = Number(search.get('limit') ?? 25);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const [sort, setSort] = useState<{ key: SortKey; dir: 1 | -1 }>({ key: 'name', dir: 1 });
  const key = search.toString();
  const { data, error, loading, slow, reload } = useAsync(
    () =>
      api<Page<Agent>>(
        'GET',
        `/api/v1/agents${query({
          q: filters.q,
          status: filters.status,
          environment: filters.environment,
          team: filters.team,
          owner: filters.owner,
          tag: filters.tag ? [filters.tag] : undefined,
          limit,
          cursor,
        })}`,
      ),
    [key, cursor],
  );
  const rows = useMemo(() => {
    const items = [...(data?.items ?? [])];
    items.sort((a, b) => {
      const x = sortValue(a, sort.key);
      const y = sortValue(b, sort.key);
      return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
    });
    return items;
  }, [data, sort]);

  function apply(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const f of FILTERS) {
      const v = String(form.get(f) ?? '').trim();
      if (v) next.set(f, v);
    }
    const size = String(form.get('limit') ?? '25');
    if (size !== '25') next.set('limit', size);
    setCursors([null]);
    setSearch(next);
  }
  function clear() {
    setCursors([null]);
    setSearch(new URLSearchParams());
  }
  const filtered = FILTERS.some((f) => filters[f]);

  return (
    <section aria-labelledby="agents-title">
      <div className="page-head">
        <h1 id="agents-title">Agents</h1>
        {s.canManageAgents && (
          <Link to="/agents/new" className="button">
            New agent
          </Link>
        )}
      </div>
      <form className="filters" aria-label="Filter agents" onSubmit={apply} key={key}>
        <label className="field grow">
          <span>Search</span>
          <input name="q" type="search" defaultValue={filters.q} placeholder="name, id or purpose" />
        </label>
        <label className="field">
          <span>Status</span>
          <select name="status" defaultValue={filters.status}>
            <option value="">any</option>
            <option value="active">active</option>
            <option value="suspended">suspended</option>
            <option value="decommissioned">decommissioned</option>
          </select>
        </label>
        <label className="field">
          <span>Environment</span>
          <input name="environment" defaultValue={filters.environment} placeholder="any" />
        </label>
        <label className="field">
          <span>Team</span>
          <input name="team" defaultValue={filters.team} placeholder="any" />
        </label>
        {s.role !== 'owner' && (
          <label className="field">
            <span>Owner</span>
            <input name="owner" defaultValue={filters.owner} placeholder="email or id" />
          </label>
        )}
        <label className="field">
          <span>Tag</span>
          <input
            name="tag"
            defaultValue={filters.tag}
            placeholder="key=value"
            pattern="[A-Za-z0-9_.:/-]{1,64}=.*"
          />
        </label>
        <label className="field">
          <span>Per page</span>
          <select name="limit" defaultValue={String(limit)}>
            <option>25</option>
            <option>50</option>
            <option>100</option>
          </select>
        </label>
        <div className="actions">
          <button type="submit">Search</button>
          {filtered && (
            <button type="button" className="secondary" onClick={clear}>
              Clear
            </button>
          )}
        </div>
      </form>
      {error !== null && <ErrorNotice error={error} onRetry={reload} />}
      {loading && slow && <Loading />}
      {data && rows.length === 0 && !loading && (
        <Empty title={filtered ? 'No agent matches these filters' : 'No agents yet'}>
          {filtered ? (
            <button type="button" className="secondary" onClick={clear}>
              Clear the filters
            </button>
          ) : s.canManageAgents ? (
            <Link to="/agents/new">Register an agent</Link>
          ) : (
            'Agents appear here once an admin or owner registers them.'
          )}
        </Empty>
      )}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table className="data" aria-busy={loading}>
            <caption className="sr-only">Agents, sorted by {sort.key}; sorting applies to this page</caption>
            <thead>
              <tr>
                {COLUMNS.map((c) => (
                  <th
                    key={c.key}
                    scope="col"
                    aria-sort={sort.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'}
                  >
                    <button
                      type="button"
                      className="sort"
                      onClick={() =>
                        setSort((old) => ({
                          key: c.key,
                          dir: old.key === c.key ? (old.dir === 1 ? -1 : 1) : 1,
                        }))
                      }
                    >
                      {c.label}
                      <span aria-hidden="true">
                        {sort.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
                      </span>
                    </button>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <tr key={a.id}>
                  <td>
                    <Link to={`/agents/${a.id}`}>{a.name}</Link>
                    <div className="muted small mono">{a.id}</div>
                  </td>
                  <td>
                    <Badge value={a.status} />
                  </td>
                  <td>{a.environment}</td>
                  <td>
                    <Badge value={a.riskLevel} />
                  </td>
                  <td>{a.owner.email}</td>
                  <td title={when(a.expiresAt)}>{relative(a.expiresAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && (
        <Pager cursors={cursors} setCursors={setCursors} nextCursor={data.nextCursor} loading={loading} />
      )}
    </section>
  );
}
