-- As SQLite's 0018: the retention sweep (PAN_BIN_RETENTION) finds the oldest
-- items of every user's bin by this index, across users, like
-- upload_sessions_state_deadline. Partial: only bin items have recycled_at.
CREATE INDEX nodes_bin_age ON nodes (recycled_at) WHERE recycled_at IS NOT NULL;
