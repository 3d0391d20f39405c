-- Natural, case-insensitive name order (issue #26): `_under, apple, Banana,
-- File1, file2, file10, Zebra`, not the bytes' `Banana, File1, …, file10,
-- file2`. Each node keeps the bytes its name sorts by (`NameSortKey`:
-- NFKC, case-folded, digit runs by their number), a BLOB that SQLite and
-- PostgreSQL compare alike (memcmp) — not a custom collation, which the
-- stock `sqlite3` shell and `PRAGMA integrity_check` could not load.
--
-- Only Swift computes the key: the nodes already here get theirs when the
-- store is next opened (`NameKeys`, in short batches); until then listings
-- order names by their bytes, as before.
ALTER TABLE nodes ADD COLUMN name_key BLOB;

-- Name orders (`orderBy` 2 and 3) from an index, as `nodes_live_name` served
-- them: key, then name bytes (equal keys: `File1`, `file1`), then the rowid.
CREATE INDEX nodes_live_name_key ON nodes (user_id, parent_id, name_key, name) WHERE state = 0;

-- The nodes still without a key, for the backfill; empty once it is done.
CREATE INDEX nodes_name_key_missing ON nodes (user_id, id) WHERE name_key IS NULL;

-- A key that changes without its name (fsck's repair) changes the order of
-- the directory's children: its listing version is bumped too (0009).
DROP TRIGGER nodes_listing_update;
CREATE TRIGGER nodes_listing_update AFTER UPDATE OF parent_id, state, name, name_key, type, ctime, size ON nodes
BEGIN
    UPDATE listing_versions SET version = version + 1
    WHERE user_id = NEW.user_id AND directory_id IN (OLD.parent_id, NEW.parent_id);
END;
