-- Audit query, live forwarding and retention.

-- The human an event is about on the actor's side (the user behind an admin
-- token, or the user an agent acts for), derived from `details` on insert so
-- events can be filtered by user; the hash covers `details`, not this copy.
ALTER TABLE audit_events ADD COLUMN user_id TEXT;
UPDATE audit_events SET user_id = json_extract(details, '$.actorUserId');
CREATE INDEX audit_events_actor ON audit_events (actor_id, seq);
CREATE INDEX audit_events_user ON audit_events (user_id, seq);

-- One row per live-forwarding sink (webhook): the last sequence number the
-- receiver acknowledged, and a lease so that one node at a time forwards.
CREATE TABLE audit_sinks (
  name         TEXT PRIMARY KEY,
  cursor       BIGINT NOT NULL,              -- last seq acknowledged by the receiver
  lease_owner  TEXT,                         -- the node forwarding now
  lease_until  BIGINT,
  last_error   TEXT,                         -- why the last delivery failed, if it did
  updated_at   BIGINT NOT NULL
);
