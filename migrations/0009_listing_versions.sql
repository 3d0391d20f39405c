-- Listing versions of the directories whose pages are being read: bumped, in
-- the same transaction, by every change to the set or the order of the
-- directory's children (a child added, removed, moved in or out, renamed,
-- recycled, restored, resized). A page of a big directory can then reuse
-- what an earlier page learned about the same version (its total, and where
-- every 32nd child sits in each order) instead of counting and skipping
-- thousands of index entries on every request (issue #18;
-- TreeRepository.children, ListingCache).
--
-- Only directories someone pages have a row (TreeRepository.versionListing
-- adds it, the first time a big directory is listed): for every other
-- directory the triggers' UPDATE finds nothing and writes no page, so
-- uploads into ordinary directories pay only a probe of this small table.
--
-- Triggers, not application code: every writer bumps it, the server, the
-- CLI in another process and fsck's repairs alike, and no code path can
-- forget to.
CREATE TABLE listing_versions (
    user_id      INTEGER NOT NULL,
    directory_id INTEGER NOT NULL,
    version      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, directory_id)
) WITHOUT ROWID;

CREATE TRIGGER nodes_listing_insert AFTER INSERT ON nodes
WHEN NEW.parent_id IS NOT NULL
BEGIN
    UPDATE listing_versions SET version = version + 1 WHERE user_id = NEW.user_id AND directory_id = NEW.parent_id;
END;

CREATE TRIGGER nodes_listing_delete AFTER DELETE ON nodes
BEGIN
    UPDATE listing_versions SET version = version + 1 WHERE user_id = OLD.user_id AND directory_id = OLD.parent_id;
    DELETE FROM listing_versions WHERE user_id = OLD.user_id AND directory_id = OLD.id;
END;

CREATE TRIGGER nodes_listing_update AFTER UPDATE OF parent_id, state, name, type, ctime, size ON nodes
BEGIN
    UPDATE listing_versions SET version = version + 1
    WHERE user_id = NEW.user_id AND directory_id IN (OLD.parent_id, NEW.parent_id);
END;
