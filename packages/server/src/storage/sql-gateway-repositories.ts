import type { SqlExecutor } from './sql-driver.js';

/** What kind of upstream: an MCP server or a plain HTTP API. */
export type UpstreamKind = 'mcp' | 'http';

/**
 * An upstream of the gateway. `spec` and `catalog` are JSON the gateway owns
 * and validates (see `gateway/upstream-spec.ts`); storage keeps them opaque.
 */
export interface UpstreamRecord {
  readonly kind: UpstreamKind;
  readonly name: string;
  readonly description: string;
  readonly spec: Readonly<Record<string, unknown>>;
  /** MCP servers: the tools last discovered (`{ name, description, inputSchema }`); empty for HTTP APIs. */
  readonly catalog: readonly unknown[];
  readonly catalogUpdatedAt: number | null;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface GatewayRepositories {
  readonly gatewayUpstreams: {
    /** Throws `UniqueViolation` when an upstream of that kind and name exists. */
    insert(record: UpstreamRecord): Promise<void>;
    get(kind: UpstreamKind, name: string): Promise<UpstreamRecord | null>;
    /** Every upstream (of `kind`, when given), by name. */
    list(kind?: UpstreamKind): Promise<readonly UpstreamRecord[]>;
    /** Replaces the catalog; null when the upstream does not exist. */
    setCatalog(kind: UpstreamKind, name: string, catalog: readonly unknown[], at: number): Promise<boolean>;
    delete(kind: UpstreamKind, name: string): Promise<boolean>;
  };
}

type Row = {
  kind: UpstreamKind;
  name: string;
  description: string;
  spec: string;
  catalog: string;
  catalog_updated_at: number | null;
  created_by: string;
  created_at: number;
  updated_at: number;
};

const toRecord = (r: Row): UpstreamRecord => ({
  kind: r.kind,
  name: r.name,
  description: r.description,
  spec: JSON.parse(r.spec) as Record<string, unknown>,
  catalog: JSON.parse(r.catalog) as unknown[],
  catalogUpdatedAt: r.catalog_updated_at === null ? null : Number(r.catalog_updated_at),
  createdBy: r.created_by,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

/** The gateway's table, in the SQL both dialects share. */
export function gatewayRepositories(ex: SqlExecutor): GatewayRepositories {
  return {
    gatewayUpstreams: {
      async insert(u) {
        await ex.write(
          `INSERT INTO gateway_upstreams (kind, name, description, spec, catalog, catalog_updated_at, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [
            u.kind,
            u.name,
            u.description,
            JSON.stringify(u.spec),
            JSON.stringify(u.catalog),
            u.catalogUpdatedAt,
            u.createdBy,
            u.createdAt,
            u.updatedAt,
          ],
        );
      },
      async get(kind, name) {
        const rows = await ex.all<Row>('SELECT * FROM gateway_upstreams WHERE kind = $1 AND name = $2', [
          kind,
          name,
        ]);
        return rows[0] ? toRecord(rows[0]) : null;
      },
      async list(kind) {
        const rows = kind
          ? await ex.all<Row>('SELECT * FROM gateway_upstreams WHERE kind = $1 ORDER BY name', [kind])
          : await ex.all<Row>('SELECT * FROM gateway_upstreams ORDER BY kind, name');
        return rows.map(toRecord);
      },
      async setCatalog(kind, name, catalog, at) {
        const { changes } = await ex.write(
          'UPDATE gateway_upstreams SET catalog = $1, catalog_updated_at = $2, updated_at = $2 WHERE kind = $3 AND name = $4',
          [JSON.stringify(catalog), at, kind, name],
        );
        return changes === 1;
      },
      async delete(kind, name) {
        return (
          (await ex.write('DELETE FROM gateway_upstreams WHERE kind = $1 AND name = $2', [kind, name]))
            .changes === 1
        );
      },
    },
  };
}
