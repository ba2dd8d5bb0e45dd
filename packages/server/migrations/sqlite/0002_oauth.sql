-- Agent authentication: the authorization server's signing keys, agents' public keys,
-- token settings per agent, issued tokens (for introspection and revocation),
-- single-use identifiers (assertion and DPoP proof jti), and trusted workload issuers.

CREATE TABLE signing_keys (
  kid           TEXT PRIMARY KEY,
  alg           TEXT NOT NULL,
  public_jwk    TEXT NOT NULL,                 -- JSON, public members only
  private_key   TEXT NOT NULL,                 -- sealed with the master key (AES-256-GCM)
  state         TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
  created_at    INTEGER NOT NULL,
  activated_at  INTEGER,
  retired_at    INTEGER,
  publish_until INTEGER                        -- retired keys stay in the JWKS until then
);

CREATE TABLE agent_keys (
  agent_id    TEXT NOT NULL REFERENCES agents (id),
  kid         TEXT NOT NULL,
  alg         TEXT NOT NULL,
  jwk         TEXT NOT NULL,                   -- JSON, public members only
  thumbprint  TEXT NOT NULL,                   -- RFC 7638, SHA-256
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  revoked_at  INTEGER,
  PRIMARY KEY (agent_id, kid)
);

ALTER TABLE agents ADD COLUMN allowed_scopes TEXT NOT NULL DEFAULT '[]';     -- JSON array
ALTER TABLE agents ADD COLUMN allowed_audiences TEXT NOT NULL DEFAULT '[]';  -- JSON array
ALTER TABLE agents ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0;

CREATE TABLE issued_tokens (
  jti          TEXT PRIMARY KEY,
  agent_id     TEXT NOT NULL,
  credential   TEXT NOT NULL,                  -- `key:<kid>` or `federation:<issuer id>`
  issued_at    INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  revoked_at   INTEGER
);
CREATE INDEX issued_tokens_agent ON issued_tokens (agent_id, expires_at);
CREATE INDEX issued_tokens_expiry ON issued_tokens (expires_at);

CREATE TABLE used_jtis (
  scope       TEXT NOT NULL,                   -- e.g. `assertion:<agent id>`, `dpop:<jkt>`
  jti         TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (scope, jti)
);
CREATE INDEX used_jtis_expiry ON used_jtis (expires_at);

CREATE TABLE federated_issuers (
  id          TEXT PRIMARY KEY,
  issuer      TEXT NOT NULL UNIQUE,
  jwks        TEXT,                            -- inline JWKS JSON, or null when jwks_uri is set
  jwks_uri    TEXT,
  audiences   TEXT NOT NULL,                   -- JSON array
  rules       TEXT NOT NULL,                   -- JSON array of { claims: {…}, agent: <agent id> }
  created_at  INTEGER NOT NULL
);

-- Status changes get a time-ordered id, so two changes in the same millisecond keep their order.
ALTER TABLE agent_status_changes ADD COLUMN id TEXT;

-- Admin tokens gain the `resource_server` role (introspection only). SQLite cannot
-- alter a CHECK constraint, so the table is rebuilt.
CREATE TABLE admin_tokens_new (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,
  role         TEXT NOT NULL CHECK (role IN ('admin', 'auditor', 'owner', 'resource_server')),
  user_id      TEXT REFERENCES users (id),
  created_by   TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  revoked_at   INTEGER,
  last_used_at INTEGER
);
INSERT INTO admin_tokens_new SELECT * FROM admin_tokens;
DROP TABLE admin_tokens;
ALTER TABLE admin_tokens_new RENAME TO admin_tokens;
