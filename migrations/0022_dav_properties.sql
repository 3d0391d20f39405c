-- WebDAV (issue #29): dead properties and write locks.
--
-- `dav_properties`: what PROPPATCH set on a node (Windows' Win32* times and
-- attributes, macOS's own): one row per (node, namespace, name). `value` is
-- the property element's content as XML text, re-serialized with every
-- namespace it uses declared on its own elements, so it is written back as
-- is (`DAVDeadProperty`). The row follows its node (ids do not change on
-- rename, move or PUT), is copied with it (`TreeMutations.copy`) and deleted
-- with it for good (`TreeMutations.deleteRange`). Bounds: `DAVLimits`.
CREATE TABLE dav_properties (
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    node_id   INTEGER NOT NULL,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    PRIMARY KEY (user_id, node_id, namespace, name)
) WITHOUT ROWID;

-- `dav_locks`: LOCK's write locks (RFC 4918 §6–7). A lock is rooted at a
-- node (its path is read through the node, so it follows API renames and is
-- dead once the node leaves the live tree); WebDAV's DELETE and MOVE drop the
-- locks of what they remove or move, as RFC 4918 §7.7/§9.9 asks. `token` is
-- `urn:uuid:` + 122 random bits; a lock is only ever found with its user's
-- id, so another user's token neither unlocks nor satisfies an If header.
-- `depth`: 0 or -1 (infinity); `exclusive`: 1 or 0 (shared); `owner`: the
-- client's <D:owner> XML, written back as is; times are Unix ms. A lock past
-- `expires_at` counts for nothing and is deleted by the next LOCK of its user
-- or by the sweeper.
CREATE TABLE dav_locks (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token      TEXT    NOT NULL,
    node_id    INTEGER NOT NULL,
    depth      INTEGER NOT NULL,
    exclusive  INTEGER NOT NULL,
    owner      TEXT    NOT NULL,
    timeout    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, token)
) WITHOUT ROWID;
CREATE INDEX dav_locks_node ON dav_locks (user_id, node_id);
CREATE INDEX dav_locks_expiry ON dav_locks (expires_at);
