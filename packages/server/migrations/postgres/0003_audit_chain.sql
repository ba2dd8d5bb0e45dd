-- Tamper-evident audit log: every event carries the hash of its predecessor and
-- its own hash over its canonical form (RFC 8785). One head row is the single
-- sequencer: appending reads and advances it in the appending transaction, so
-- several writers can never fork the chain or leave a gap in sequence numbers.

ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;

CREATE TABLE audit_head (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  seq  BIGINT NOT NULL,
  hash TEXT NOT NULL
);
-- Events written before the chain existed stay unchained; the chain starts after them.
INSERT INTO audit_head (id, seq, hash)
  SELECT 1, COALESCE(MAX(seq), 0), '0000000000000000000000000000000000000000000000000000000000000000' FROM audit_events;

-- Signed checkpoints (C2SP tlog-checkpoint signed notes) over the chain.
CREATE TABLE audit_checkpoints (
  size       BIGINT PRIMARY KEY,               -- the last sequence number covered
  hash       TEXT NOT NULL,                    -- that event's hash (the chain head)
  at         BIGINT NOT NULL,
  note       TEXT NOT NULL,                    -- the signed note, as published
  sunk_at    BIGINT                            -- when the external sink (file, webhook) confirmed it
);

-- The audit signing key (Ed25519), sealed with the master key.
CREATE TABLE audit_keys (
  name        TEXT PRIMARY KEY,
  public_key  TEXT NOT NULL,                   -- base64 of the 32-byte Ed25519 public key
  private_key TEXT NOT NULL,                   -- sealed PKCS#8
  created_at  BIGINT NOT NULL
);
