-- Inventory: humans, teams, agents, their lifecycle history, admin tokens, audit events.
-- Times are milliseconds since the Unix epoch (INTEGER); ids are prefixed ULIDs.

CREATE TABLE users (
  id          TEXT PRIMARY KEY,
  email       TEXT NOT NULL UNIQUE,          -- stored lowercased
  name        TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('active', 'deactivated')),
  manager_id  TEXT REFERENCES users (id),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE teams (
  name        TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE agents (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  owner_id      TEXT NOT NULL REFERENCES users (id),
  team          TEXT REFERENCES teams (name),
  purpose       TEXT NOT NULL,
  environment   TEXT NOT NULL,
  risk_level    TEXT NOT NULL CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
  status        TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'decommissioned')),
  status_reason TEXT,
  expires_at    INTEGER NOT NULL,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
-- INVARIANT: a name is unique per environment among agents that are not decommissioned
CREATE UNIQUE INDEX agents_live_name ON agents (environment, name) WHERE status <> 'decommissioned';
CREATE INDEX agents_owner ON agents (owner_id);
CREATE INDEX agents_team ON agents (team);

CREATE TABLE agent_tags (
  agent_id TEXT NOT NULL REFERENCES agents (id),
  key      TEXT NOT NULL,
  value    TEXT NOT NULL,
  PRIMARY KEY (agent_id, key)
);
CREATE INDEX agent_tags_key_value ON agent_tags (key, value);

CREATE TABLE agent_status_changes (
  agent_id    TEXT NOT NULL REFERENCES agents (id),
  at          INTEGER NOT NULL,
  from_status TEXT,
  to_status   TEXT NOT NULL,
  reason      TEXT NOT NULL,
  actor       TEXT NOT NULL
);
CREATE INDEX agent_status_changes_agent ON agent_status_changes (agent_id, at);

CREATE TABLE admin_tokens (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,          -- SHA-256 of the token, hex; the token itself is never stored
  role         TEXT NOT NULL CHECK (role IN ('admin', 'auditor', 'owner')),
  user_id      TEXT REFERENCES users (id),
  created_by   TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  revoked_at   INTEGER,
  last_used_at INTEGER
);

CREATE TABLE audit_events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  id          TEXT NOT NULL UNIQUE,
  at          INTEGER NOT NULL,
  request_id  TEXT,
  actor_type  TEXT NOT NULL,
  actor_id    TEXT NOT NULL,
  action      TEXT NOT NULL,
  target_type TEXT,
  target_id   TEXT,
  outcome     TEXT NOT NULL,
  reason      TEXT,
  details     TEXT NOT NULL                   -- JSON object
);
CREATE INDEX audit_events_target ON audit_events (target_id, seq);
CREATE INDEX audit_events_at ON audit_events (at);
