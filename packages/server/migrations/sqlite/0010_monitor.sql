-- Continuous monitoring: the pipeline's position in the audit log, learned
-- per-agent baselines, findings, the outbox of alerts and Security Event
-- Tokens, restrictions set by response rules, and the SET signing key.

-- The pipeline tails the audit log: `cursor` is the last sequence number whose
-- findings and deliveries are committed; `baseline_seq` the last one the stored
-- baselines include (the gap is replayed, learning only, after a restart).
-- A lease lets one node at a time run it.
CREATE TABLE monitor_state (
  name          TEXT PRIMARY KEY,
  cursor        BIGINT NOT NULL,
  baseline_seq  BIGINT NOT NULL,
  lease_owner   TEXT,
  lease_until   BIGINT,
  updated_at    BIGINT NOT NULL
);

-- What each agent usually does (JSON, see monitor/baseline.ts).
CREATE TABLE monitor_baselines (
  agent_id    TEXT PRIMARY KEY,
  data        TEXT NOT NULL,
  updated_at  BIGINT NOT NULL
);

CREATE TABLE monitor_findings (
  id             TEXT PRIMARY KEY,                -- fnd_…
  detector       TEXT NOT NULL,                   -- stable detector id
  severity       TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  agent_id       TEXT NOT NULL,
  dedup_key      TEXT NOT NULL,                   -- repeats update the open finding with this key
  status         TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved', 'false_positive')),
  title          TEXT NOT NULL,
  explanation    TEXT NOT NULL,
  evidence       TEXT NOT NULL,                   -- JSON: the events that show it (audit seq, time, action…)
  occurrences    INTEGER NOT NULL,
  first_seen     BIGINT NOT NULL,
  last_seen      BIGINT NOT NULL,
  response       TEXT,                            -- the automatic action taken (notify, require_approval, suspend)
  status_reason  TEXT,
  status_by      TEXT,
  created_at     BIGINT NOT NULL,
  updated_at     BIGINT NOT NULL
);
CREATE INDEX monitor_findings_key ON monitor_findings (dedup_key, status);
CREATE INDEX monitor_findings_agent ON monitor_findings (agent_id, id);
CREATE INDEX monitor_findings_status ON monitor_findings (status, id);

-- Outbox: every alert and SET is stored in the transaction that raised it, then
-- delivered with retries until the receiver acknowledges it (no loss across restarts).
CREATE TABLE monitor_deliveries (
  id            TEXT PRIMARY KEY,                 -- dlv_…
  channel       TEXT NOT NULL CHECK (channel IN ('webhook', 'set')),
  target        TEXT NOT NULL,                    -- the receiver's URL
  content_type  TEXT NOT NULL,
  body          TEXT NOT NULL,                    -- exactly what is POSTed
  finding_id    TEXT,
  attempts      INTEGER NOT NULL,
  next_at       BIGINT NOT NULL,
  delivered_at  BIGINT,
  last_error    TEXT,
  created_at    BIGINT NOT NULL
);
CREATE INDEX monitor_deliveries_due ON monitor_deliveries (delivered_at, next_at);

-- Agents whose sensitive calls need a human's approval (set by a response rule; an admin lifts it).
CREATE TABLE monitor_restrictions (
  agent_id    TEXT PRIMARY KEY,
  mode        TEXT NOT NULL CHECK (mode IN ('approval_required')),
  finding_id  TEXT,
  reason      TEXT NOT NULL,
  created_by  TEXT NOT NULL,
  created_at  BIGINT NOT NULL
);

-- The key Security Event Tokens are signed with (private half sealed with the master key).
CREATE TABLE monitor_set_keys (
  kid          TEXT PRIMARY KEY,
  alg          TEXT NOT NULL,
  public_jwk   TEXT NOT NULL,
  private_key  TEXT NOT NULL,                     -- sealed PKCS#8, context `set-key:<kid>`
  created_at   BIGINT NOT NULL
);
