-- Instant upload without trusting a bare hash (issue #24).
--
-- A user's own content is instant: one probe of this index answers "does any
-- node of this user (live or binned) hold this hash?".
CREATE INDEX nodes_user_store_hash ON nodes (user_id, store_hash) WHERE store_hash IS NOT NULL;

-- Someone else's content needs proof of possession. The challenge rides on
-- the upload session the token request opened (the legacy grant): the nonce's
-- random half, the byte ranges to hash, and until when it may be answered.
-- Answering clears `proof_secret` in the same statement that checks it, so a
-- nonce is used once; its session bounds how many a user can hold (the
-- pending-upload cap) and the sweeper's expiry ends it.
ALTER TABLE upload_sessions ADD COLUMN proof_secret TEXT;
ALTER TABLE upload_sessions ADD COLUMN proof_ranges TEXT;
ALTER TABLE upload_sessions ADD COLUMN proof_expires INTEGER;
