-- The recycle bin: the top node of a recycled subtree records when it was
-- recycled; its descendants are in the bin with it (state 1) but keep NULL,
-- so restoring a directory does not restore what was recycled inside it
-- earlier on its own.
ALTER TABLE nodes ADD COLUMN recycled_at INTEGER;
CREATE INDEX nodes_recycled ON nodes (user_id, recycled_at) WHERE recycled_at IS NOT NULL;

-- Listing a directory by size.
CREATE INDEX nodes_children_size ON nodes (parent_id, state, size);
