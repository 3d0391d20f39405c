-- Every statement that addresses a node names its user (so PostgreSQL, and
-- Citus, route it to one partition). Here the indexes that find a
-- directory's children lead with user_id too, as PostgreSQL's do: with
-- parent_id first, the user_id term had to be checked against each table
-- row (a 10k-directory count read 10k rows instead of index entries).
DROP INDEX nodes_live_name;
CREATE UNIQUE INDEX nodes_live_name ON nodes (user_id, parent_id, name) WHERE state = 0;
DROP INDEX nodes_children_ctime;
CREATE INDEX nodes_children_ctime ON nodes (user_id, parent_id, state, ctime);
DROP INDEX nodes_children_size;
CREATE INDEX nodes_children_size ON nodes (user_id, parent_id, state, size);
DROP INDEX nodes_children_rgt;
CREATE INDEX nodes_children_rgt ON nodes (user_id, parent_id, rgt);
