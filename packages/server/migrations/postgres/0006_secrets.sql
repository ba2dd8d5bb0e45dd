-- The vault of downstream credentials (API keys, bearer tokens, OAuth client
-- secrets of upstreams). Envelope encryption: each secret has its own data key
-- (AES-256-GCM), and that data key is stored only sealed with the master key.

CREATE TABLE secrets (
  name        TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  data_key    TEXT NOT NULL,     -- the data key, sealed with the master key (context `secret-key:<name>:<version>`)
  value       TEXT NOT NULL,     -- the value, sealed with the data key (context `secret:<name>:<version>`)
  version     INTEGER NOT NULL,
  created_by  TEXT NOT NULL,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
);
