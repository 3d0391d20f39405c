-- Each user's node count (files and directories, live or in the bin, the
-- root included), kept by the transactions that insert and delete nodes, so
-- the per-user node cap (PAN_MAX_NODES) is one conditional UPDATE of the
-- user's row instead of a COUNT over a tree of up to a million nodes
-- (issue #24 §2.3: empty files and folders cost no quota, and one request
-- made 32,100 of them). `pan fsck` checks it and `--repair` recounts it.
ALTER TABLE users ADD COLUMN node_count INTEGER NOT NULL DEFAULT 0;
UPDATE users SET node_count = (SELECT COUNT(*) FROM nodes n WHERE n.user_id = users.id);
