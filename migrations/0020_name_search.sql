-- Search by name (issue #28, `POST /v1/files/search`): a case-insensitive
-- substring match of node names, from an index rather than a scan of the
-- user's nodes. FTS5's trigram tokenizer (SQLite 3.34+) indexes every
-- three-character run of a name, folded to one case (`case_sensitive 0`,
-- SQLite's Unicode folding: `Ä` finds `ä`); a quoted phrase of the query
-- ("abcd": the runs abc, bcd next to each other) is then exactly "contains
-- abcd, ignoring case". Queries of one or two characters have no trigram:
-- NameSearch scans the user's nodes for them instead (bounded; see there).
--
-- External content: the names stay only in `nodes`; this table holds the
-- index (rowid = nodes.id). It covers every user and every state; the query
-- joins each match to its node and keeps the caller's live (or binned)
-- nodes under the folder searched, so another user's names are never
-- answered, and recycling, restoring or moving a node (which change state,
-- path and intervals, never the name) needs no change here.
CREATE VIRTUAL TABLE node_names USING fts5(
    name, content = 'nodes', content_rowid = 'id', tokenize = 'trigram case_sensitive 0', columnsize = 0
);

-- Kept by triggers, as listing_versions (0009): every writer keeps it, the
-- server, the CLI and fsck's repairs alike. An external-content index must
-- be told the exact old text of a row it forgets: OLD.name.
CREATE TRIGGER nodes_names_insert AFTER INSERT ON nodes
BEGIN
    INSERT INTO node_names (rowid, name) VALUES (NEW.id, NEW.name);
END;

CREATE TRIGGER nodes_names_delete AFTER DELETE ON nodes
BEGIN
    INSERT INTO node_names (node_names, rowid, name) VALUES ('delete', OLD.id, OLD.name);
END;

CREATE TRIGGER nodes_names_update AFTER UPDATE OF name ON nodes
WHEN OLD.name IS NOT NEW.name
BEGIN
    INSERT INTO node_names (node_names, rowid, name) VALUES ('delete', OLD.id, OLD.name);
    INSERT INTO node_names (rowid, name) VALUES (NEW.id, NEW.name);
END;

-- The nodes already here.
INSERT INTO node_names (node_names) VALUES ('rebuild');
