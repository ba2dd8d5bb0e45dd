-- Human approval of sensitive actions: a policy marks a forbid with
-- `@approval`, the gateway records the request it refused, the designated
-- person approves or denies it, and the agent retries once with the reference.
-- A reference is bound to the exact action (agent, person, action, resource,
-- arguments) by `binding`, expires, and is used at most once.

CREATE TABLE approvals (
  id            TEXT PRIMARY KEY,
  agent_id      TEXT NOT NULL REFERENCES agents (id),
  person_id     TEXT REFERENCES users (id),      -- the person a delegated call acts for
  approver_id   TEXT NOT NULL REFERENCES users (id),
  approver_kind TEXT NOT NULL CHECK (approver_kind IN ('person', 'owner')),
  action        TEXT NOT NULL,                   -- Cedar action, e.g. tools/call
  resource_type TEXT NOT NULL,
  resource_id   TEXT NOT NULL,
  request       TEXT NOT NULL,                   -- JSON: what the approver is shown (tool, arguments…)
  binding       TEXT NOT NULL,                   -- SHA-256 of the canonical action the reference is for
  policies      TEXT NOT NULL,                   -- JSON array: the forbids that asked for approval
  status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'used')),
  created_at    BIGINT NOT NULL,
  expires_at    BIGINT NOT NULL,
  decided_at    BIGINT,
  decided_by    TEXT,
  reason        TEXT,
  used_at       BIGINT
);
CREATE INDEX approvals_approver ON approvals (approver_id, status);
CREATE INDEX approvals_agent ON approvals (agent_id, created_at);
