-- The default listing order (`orderBy` −1: directories first, newest first,
-- then id) starts with `type`: the old (…, state, ctime) index could not
-- serve it, so every page sorted the whole directory (a page of a 10k
-- directory ~18 ms). Scanned backwards this index gives that order directly
-- (`id` is the rowid every SQLite index ends with), and forwards `orderBy` 17.
DROP INDEX nodes_children_ctime;
CREATE INDEX nodes_children_type_ctime ON nodes (user_id, parent_id, state, type, ctime);
