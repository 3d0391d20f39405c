-- As SQLite's 0015: natural, case-insensitive name order by a stored key
-- (`NameSortKey`), bytea — compared bytewise, as SQLite's BLOB, whatever the
-- database's collation. Nodes already here get their key when the store is
-- next opened (`NameKeys`, in short batches); until then names list by bytes.
ALTER TABLE nodes ADD COLUMN name_key BYTEA;

-- Name orders from an index: key, then name bytes (COLLATE "C"), then id.
DROP INDEX nodes_children_name;
CREATE INDEX nodes_children_name_key ON nodes (user_id, parent_id, state, name_key, name, id);

-- The nodes still without a key, for the backfill; empty once it is done.
CREATE INDEX nodes_name_key_missing ON nodes (user_id, id) WHERE name_key IS NULL;

-- A key that changes without its name (fsck's repair) changes the order of
-- the directory's children: its listing version is bumped too (0004).
DROP TRIGGER nodes_listing ON nodes;
CREATE TRIGGER nodes_listing AFTER INSERT OR DELETE OR UPDATE OF parent_id, state, name, name_key, type, ctime, size ON nodes
FOR EACH ROW EXECUTE FUNCTION nodes_bump_listing();
