-- Deleting the recycle bin for good (emptyBin, PAN_BIN_RETENTION).
--
-- The retention sweep finds the oldest items of every user's bin by
-- nodes_bin_age, without visiting each user (nodes_recycled of 0002 is by
-- user first). Like upload_sessions_state_deadline, a sweeper's index across
-- users. Partial: only the top nodes of recycled subtrees have recycled_at.
CREATE INDEX nodes_bin_age ON nodes (recycled_at) WHERE recycled_at IS NOT NULL;

-- Every deleted node makes SQLite's foreign key look for the sessions that
-- made it (ON DELETE SET NULL): without an index, a scan of all sessions per
-- node, so a purge step of 5,000 nodes cost 5,000 scans of the table.
CREATE INDEX upload_sessions_result_node ON upload_sessions (result_node_id) WHERE result_node_id IS NOT NULL;
