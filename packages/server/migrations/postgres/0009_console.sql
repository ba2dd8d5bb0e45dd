-- Console sign-in: password accounts, server-side sessions, login throttling.
-- Times are milliseconds since the Unix epoch.

-- A user's console password (argon2id, PHC string) and the role they sign in with.
CREATE TABLE user_passwords (
  user_id       TEXT PRIMARY KEY REFERENCES users (id),
  password_hash TEXT NOT NULL,               -- $argon2id$… (salted); the password itself is never stored
  console_role  TEXT NOT NULL CHECK (console_role IN ('admin', 'auditor', 'owner')),
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL
);

-- A signed-in browser. Only the SHA-256 of the session id (the cookie value) is kept.
CREATE TABLE console_sessions (
  id_hash        TEXT PRIMARY KEY,
  method         TEXT NOT NULL CHECK (method IN ('token', 'password')),
  admin_token_id TEXT REFERENCES admin_tokens (id),   -- set for method 'token'
  user_id        TEXT REFERENCES users (id),          -- set for method 'password'
  address        TEXT NOT NULL,
  user_agent     TEXT NOT NULL,
  created_at     BIGINT NOT NULL,
  last_seen_at   BIGINT NOT NULL,
  expires_at     BIGINT NOT NULL             -- absolute end; idle expiry is checked against last_seen_at
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- Failed sign-ins per key (`account:<name>` or `address:<ip>`) in the current window.
CREATE TABLE login_throttle (
  key          TEXT PRIMARY KEY,
  failures     INTEGER NOT NULL,
  window_start BIGINT NOT NULL,
  locked_until BIGINT
);
