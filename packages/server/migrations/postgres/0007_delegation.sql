-- Delegated authority: trusted identity providers for people, consents a person
-- gives an agent, and delegation facts on issued tokens (so revoking a consent
-- ends every token derived from it).

CREATE TABLE identity_providers (
  id          TEXT PRIMARY KEY,
  issuer      TEXT NOT NULL UNIQUE,
  jwks        TEXT,                          -- inline JWKS JSON, or null when jwks_uri is set
  jwks_uri    TEXT,
  audience    TEXT NOT NULL,                 -- the `aud` its ID/access tokens must carry for Custos
  claim       TEXT NOT NULL CHECK (claim IN ('sub', 'email')),
  jit_users   INTEGER NOT NULL DEFAULT 0,    -- create unknown people on first sight
  created_at  BIGINT NOT NULL
);

-- Which IdP subject is which Custos user (claim = sub mapping).
CREATE TABLE user_identities (
  provider_id TEXT NOT NULL REFERENCES identity_providers (id),
  subject     TEXT NOT NULL,
  user_id     TEXT NOT NULL REFERENCES users (id),
  PRIMARY KEY (provider_id, subject)
);

CREATE TABLE consents (
  id          TEXT PRIMARY KEY,
  user_id     TEXT NOT NULL REFERENCES users (id),
  agent_id    TEXT NOT NULL REFERENCES agents (id),
  scopes      TEXT NOT NULL,                 -- JSON array of scopes the person agreed to
  created_by  TEXT NOT NULL,
  created_at  BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL,
  revoked_at  BIGINT
);
CREATE INDEX consents_user_agent ON consents (user_id, agent_id);

ALTER TABLE issued_tokens ADD COLUMN subject TEXT;        -- the person, when delegated
ALTER TABLE issued_tokens ADD COLUMN consent_id TEXT;     -- the consent it derives from
CREATE INDEX issued_tokens_consent ON issued_tokens (consent_id);
