-- As SQLite's 0011: each user's node count (live or in the bin, the root
-- included), kept by the transactions that insert and delete nodes, for the
-- per-user node cap (PAN_MAX_NODES) without a COUNT per insert.
ALTER TABLE users ADD COLUMN node_count BIGINT NOT NULL DEFAULT 0;
UPDATE users SET node_count = (SELECT COUNT(*) FROM nodes n WHERE n.user_id = users.id);
