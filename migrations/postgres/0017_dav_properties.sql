-- As SQLite's 0022: WebDAV dead properties and write locks, partitioned by
-- user like the other per-user tables (no foreign key to nodes, for Citus:
-- `TreeMutations.deleteRange` deletes them with their nodes).
CREATE TABLE dav_properties (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    node_id   BIGINT NOT NULL,
    namespace TEXT   COLLATE "C" NOT NULL,
    name      TEXT   COLLATE "C" NOT NULL,
    value     TEXT   NOT NULL,
    PRIMARY KEY (user_id, node_id, namespace, name)
) PARTITION BY HASH (user_id);
CREATE TABLE dav_properties_p0 PARTITION OF dav_properties FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE dav_properties_p1 PARTITION OF dav_properties FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE dav_properties_p2 PARTITION OF dav_properties FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE dav_properties_p3 PARTITION OF dav_properties FOR VALUES WITH (MODULUS 4, REMAINDER 3);

CREATE TABLE dav_locks (
    user_id    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token      TEXT    COLLATE "C" NOT NULL,
    node_id    BIGINT  NOT NULL,
    depth      INTEGER NOT NULL,
    exclusive  INTEGER NOT NULL,
    owner      TEXT    NOT NULL,
    timeout    BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (user_id, token)
) PARTITION BY HASH (user_id);
CREATE TABLE dav_locks_p0 PARTITION OF dav_locks FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE dav_locks_p1 PARTITION OF dav_locks FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE dav_locks_p2 PARTITION OF dav_locks FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE dav_locks_p3 PARTITION OF dav_locks FOR VALUES WITH (MODULUS 4, REMAINDER 3);
CREATE INDEX dav_locks_node ON dav_locks (user_id, node_id);
CREATE INDEX dav_locks_expiry ON dav_locks (expires_at);
