-- A directory's listing version: bumped, in the same transaction, by every
-- change to the set or the order of its children (a child added, removed,
-- moved in or out, renamed, recycled, restored, resized). A page of a big
-- directory can then reuse what an earlier page learned about the same
-- version (its total and where every 32nd child sits in each order) instead
-- of counting and skipping thousands of index entries on every request
-- (issue #18; TreeRepository.children, ListingCache).
--
-- Triggers, not application code: every writer bumps it, the server, the
-- CLI in another process and fsck's repairs alike, and no code path can
-- forget to. Bumping a parent sets only children_version, which no trigger
-- watches, so they never recurse.
ALTER TABLE nodes ADD COLUMN children_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER nodes_listing_insert AFTER INSERT ON nodes
WHEN NEW.parent_id IS NOT NULL
BEGIN
    UPDATE nodes SET children_version = children_version + 1 WHERE id = NEW.parent_id;
END;

CREATE TRIGGER nodes_listing_delete AFTER DELETE ON nodes
WHEN OLD.parent_id IS NOT NULL
BEGIN
    UPDATE nodes SET children_version = children_version + 1 WHERE id = OLD.parent_id;
END;

CREATE TRIGGER nodes_listing_update AFTER UPDATE OF parent_id, state, name, type, ctime, size ON nodes
BEGIN
    UPDATE nodes SET children_version = children_version + 1 WHERE id IN (OLD.parent_id, NEW.parent_id);
END;
