-- The gateway's upstreams: MCP servers (Streamable HTTP URL or a stdio command
-- the gateway starts) and HTTP APIs (base URL and routes), with how the gateway
-- authenticates to each (a reference to a vault secret, never a value), its rate
-- limits, and the tool catalog last discovered from an MCP server.

CREATE TABLE gateway_upstreams (
  kind                TEXT NOT NULL CHECK (kind IN ('mcp', 'http')),
  name                TEXT NOT NULL,
  description         TEXT NOT NULL,
  spec                TEXT NOT NULL,   -- JSON: transport / url / command / routes, auth, limits
  catalog             TEXT NOT NULL,   -- JSON array: the server's tools (name, description, inputSchema)
  catalog_updated_at  BIGINT,          -- when the catalog was last discovered (null: never)
  created_by          TEXT NOT NULL,
  created_at          BIGINT NOT NULL,
  updated_at          BIGINT NOT NULL,
  PRIMARY KEY (kind, name)
);
