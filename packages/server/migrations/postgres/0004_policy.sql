-- Least privilege: the admin extension of the Cedar schema, the policy sets
-- (enforced and shadow) with every revision of every policy, grants (stored as
-- the parameters of template-linked policies), and admin-defined entities.

-- One row, the single sequencer of policy changes: every change to policies,
-- grants or the schema advances it in its own transaction (a row lock on
-- PostgreSQL), so concurrent writers serialise and decisions can name the exact
-- state they were made under.
CREATE TABLE policy_state (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  version  BIGINT NOT NULL,
  shadow   INTEGER NOT NULL DEFAULT 0          -- 1 while a shadow set is being evaluated (it may be empty)
);
INSERT INTO policy_state (id, version, shadow) VALUES (1, 0, 0);

-- Who changed what, when and why: one row per version.
CREATE TABLE policy_versions (
  version     BIGINT PRIMARY KEY,
  at          BIGINT NOT NULL,
  actor_type  TEXT NOT NULL,
  actor_id    TEXT NOT NULL,
  kind        TEXT NOT NULL,                   -- policies | promote | discard | schema | grant.add | grant.revoke
  mode        TEXT,                            -- enforce | shadow, for changes to a policy set
  reason      TEXT NOT NULL,
  summary     TEXT NOT NULL                    -- JSON object
);

-- The current policies of the enforced and the shadow set.
CREATE TABLE policies (
  mode             TEXT NOT NULL CHECK (mode IN ('enforce', 'shadow')),
  id               TEXT NOT NULL,
  text             TEXT NOT NULL,
  effect           TEXT NOT NULL CHECK (effect IN ('permit', 'forbid')),
  principal_scope  TEXT NOT NULL,              -- index key of the principal constraint (policy/policy-scope.ts)
  resource_scope   TEXT NOT NULL,
  version          BIGINT NOT NULL,            -- the version that last changed it
  PRIMARY KEY (mode, id)
);

-- Every revision of every policy; a null text records its removal.
CREATE TABLE policy_revisions (
  mode     TEXT NOT NULL,
  id       TEXT NOT NULL,
  version  BIGINT NOT NULL,
  text     TEXT,
  PRIMARY KEY (mode, id, version)
);

-- The admin's extension of the platform schema (Cedar schema syntax), per version.
CREATE TABLE policy_schemas (
  version  BIGINT PRIMARY KEY,
  text     TEXT NOT NULL
);

-- Grants: "principal may action resource [when condition] [until expires_at]".
CREATE TABLE policy_grants (
  id               TEXT PRIMARY KEY,
  principal_type   TEXT NOT NULL,              -- Agent | Team
  principal_id     TEXT NOT NULL,
  action           TEXT NOT NULL,
  resource_type    TEXT NOT NULL,
  resource_id      TEXT NOT NULL,
  resource_scope   TEXT NOT NULL CHECK (resource_scope IN ('eq', 'in')),
  condition        TEXT,                       -- a Cedar expression, or null
  expires_at       BIGINT,                     -- null: until revoked
  created_at       BIGINT NOT NULL,
  created_by       TEXT NOT NULL,
  reason           TEXT NOT NULL,
  version          BIGINT NOT NULL,
  revoked_at       BIGINT,
  revoked_by       TEXT,
  revoke_reason    TEXT,
  revoked_version  BIGINT
);
CREATE INDEX policy_grants_principal ON policy_grants (principal_type, principal_id);
CREATE INDEX policy_grants_live ON policy_grants (revoked_at);

-- Entities admins define (Cedar JSON entity format). Custos' own agents, users
-- and teams are never stored here: they are built from the inventory.
CREATE TABLE policy_entities (
  type        TEXT NOT NULL,
  id          TEXT NOT NULL,
  attrs       TEXT NOT NULL,                   -- JSON object, entity references as {"__entity": …}
  parents     TEXT NOT NULL,                   -- JSON array of {"type", "id"}
  tags        TEXT NOT NULL,                   -- JSON object
  updated_at  BIGINT NOT NULL,
  PRIMARY KEY (type, id)
);
