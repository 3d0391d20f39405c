-- As SQLite's 0010: a user's own content is one probe of this index; a
-- challenge for someone else's content rides on its upload session.
CREATE INDEX nodes_user_store_hash ON nodes (user_id, store_hash) WHERE store_hash IS NOT NULL;
ALTER TABLE upload_sessions ADD COLUMN proof_secret TEXT;
ALTER TABLE upload_sessions ADD COLUMN proof_ranges TEXT;
ALTER TABLE upload_sessions ADD COLUMN proof_expires BIGINT;
