-- As SQLite's 0007: the default listing order (`orderBy` −1: directories
-- first, newest first, then id) from an index, not a sort of the directory.
DROP INDEX nodes_children_ctime;
CREATE INDEX nodes_children_type_ctime ON nodes (user_id, parent_id, state, type, ctime, id);
