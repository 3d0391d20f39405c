-- Pan's PostgreSQL schema, version 1: what SQLite's migrations 0001..0004
-- build, laid out so it can be distributed with Citus by user_id.
-- Times are Unix milliseconds (BIGINT).
--
-- The key rule: users, nodes and upload_sessions are hash-partitioned by user
-- (users by id), so every primary and unique key must include user_id, the
-- same rule Citus enforces on distributed tables. Statements that name one
-- user_id touch one partition (one shard under Citus).
--
-- Text that is compared or sorted (names, paths, ids, logins) is COLLATE "C":
-- bytewise, as in SQLite. No BEGIN/COMMIT: the migrator wraps the file in one
-- transaction. Every statement ends with ";" at the end of a line, and there
-- are no function bodies, so splitting on that is safe.

-- Users. Ids come from a sequence (global, not per partition). Name and phone
-- are unique through `logins`, not here: a distributed table cannot have a
-- unique key without its distribution column.
CREATE SEQUENCE users_id_seq AS BIGINT;
CREATE TABLE users (
    id              BIGINT  NOT NULL DEFAULT nextval('users_id_seq'),
    name            TEXT    COLLATE "C" NOT NULL,
    phone           TEXT    COLLATE "C",
    email           TEXT,
    country_code    TEXT    NOT NULL DEFAULT '86',
    -- "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>" over the MD5 hex of the password.
    password_hash   TEXT    NOT NULL,
    space_used      BIGINT  NOT NULL DEFAULT 0 CHECK (space_used >= 0),
    space_capacity  BIGINT  NOT NULL DEFAULT 10737418240 CHECK (space_capacity >= 0),
    type            BIGINT  NOT NULL DEFAULT 0,
    -- 0 active, 1 disabled
    status          BIGINT  NOT NULL DEFAULT 0,
    icon            TEXT    NOT NULL DEFAULT '',
    -- Bumped by logout and password changes: tokens carrying an older value are revoked.
    token_version   BIGINT  NOT NULL DEFAULT 0,
    create_time     BIGINT  NOT NULL,
    PRIMARY KEY (id)
) PARTITION BY HASH (id);
ALTER SEQUENCE users_id_seq OWNED BY users.id;
CREATE TABLE users_p0 PARTITION OF users FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE users_p1 PARTITION OF users FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE users_p2 PARTITION OF users FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE users_p3 PARTITION OF users FOR VALUES WITH (MODULUS 4, REMAINDER 3);

-- Every user's name and phone, in one namespace: what a login `value` is
-- looked up by, and what makes names and phones unique. Written in the same
-- transaction as the user row. No foreign key to users (SQLite's has one, ON
-- DELETE CASCADE): under Citus this is a reference table, and a reference
-- table cannot reference a distributed one; deleting a user deletes its
-- logins explicitly.
CREATE TABLE logins (
    login       TEXT    COLLATE "C" PRIMARY KEY,
    user_id     BIGINT  NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('name', 'phone'))
);
CREATE INDEX logins_user ON logins (user_id);

-- Content objects in the bucket, shared by every node with the same content
-- hash. Immutable once inserted (ON CONFLICT DO NOTHING). No reference count:
-- references are counted from nodes (`nodes_store_hash`), and `pan store gc`
-- deletes only unreferenced objects; the foreign key from nodes refuses the
-- delete of one that is referenced.
CREATE TABLE store_objects (
    hash        TEXT    COLLATE "C" PRIMARY KEY,
    size        BIGINT  NOT NULL CHECK (size >= 0),
    mime        TEXT    NOT NULL DEFAULT 'application/octet-stream',
    bucket      TEXT    NOT NULL,
    object_key  TEXT    COLLATE "C" NOT NULL,
    created     BIGINT  NOT NULL
);

-- Every user's tree, rooted at one node with parent_id NULL and path '/'.
-- lft/rgt: gapped nested-set intervals (see PanCore/Tree/IntervalAllocator.swift).
-- Ids come from one global sequence; a node is addressed as (user_id, id).
CREATE SEQUENCE nodes_id_seq AS BIGINT;
CREATE TABLE nodes (
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id          BIGINT  NOT NULL DEFAULT nextval('nodes_id_seq'),
    uuid        TEXT    COLLATE "C" NOT NULL,
    parent_id   BIGINT,
    name        TEXT    COLLATE "C" NOT NULL,
    path        TEXT    COLLATE "C" NOT NULL,
    path_id     TEXT    COLLATE "C" NOT NULL,
    -- 0 file, 1 directory
    type        BIGINT  NOT NULL CHECK (type IN (0, 1)),
    ext         TEXT    NOT NULL DEFAULT '',
    mime        TEXT    NOT NULL,
    size        BIGINT  NOT NULL DEFAULT 0 CHECK (size >= 0),
    -- RESTRICT: deleting an object some node (live or recycled) still holds fails.
    store_hash  TEXT    COLLATE "C" REFERENCES store_objects (hash) ON DELETE RESTRICT,
    lft         BIGINT  NOT NULL,
    rgt         BIGINT  NOT NULL,
    version     BIGINT  NOT NULL DEFAULT 0,
    locking     BIGINT  NOT NULL DEFAULT 0,
    preview     BIGINT  NOT NULL DEFAULT 0,
    flag        BIGINT  NOT NULL DEFAULT 0,
    atime       BIGINT  NOT NULL,
    ctime       BIGINT  NOT NULL,
    mtime       BIGINT  NOT NULL,
    -- 0 live, 1 in the recycle bin
    state       BIGINT  NOT NULL DEFAULT 0 CHECK (state IN (0, 1)),
    -- The recycle bin: the top node of a recycled subtree records when it was
    -- recycled; its descendants are in the bin with it (state 1) but keep NULL,
    -- so restoring a directory does not restore what was recycled inside it
    -- earlier on its own.
    recycled_at BIGINT,
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, uuid),
    -- A parent is a node of the same user.
    FOREIGN KEY (user_id, parent_id) REFERENCES nodes (user_id, id),
    CHECK (lft < rgt),
    CHECK ((type = 0) = (store_hash IS NOT NULL)),
    CHECK ((parent_id IS NULL) = (path = '/'))
) PARTITION BY HASH (user_id);
ALTER SEQUENCE nodes_id_seq OWNED BY nodes.id;
CREATE TABLE nodes_p0 PARTITION OF nodes FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE nodes_p1 PARTITION OF nodes FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE nodes_p2 PARTITION OF nodes FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE nodes_p3 PARTITION OF nodes FOR VALUES WITH (MODULUS 4, REMAINDER 3);

-- Live names are unique per directory: enforced here, not only in code.
CREATE UNIQUE INDEX nodes_live_name ON nodes (user_id, parent_id, name) WHERE state = 0;
CREATE UNIQUE INDEX nodes_live_path ON nodes (user_id, path_id) WHERE state = 0;
CREATE UNIQUE INDEX nodes_one_root ON nodes (user_id) WHERE parent_id IS NULL;
-- Listing a directory by creation time / name / size, and finding its last child interval.
CREATE INDEX nodes_children_ctime ON nodes (user_id, parent_id, state, ctime);
CREATE INDEX nodes_children_name ON nodes (user_id, parent_id, state, name);
CREATE INDEX nodes_children_size ON nodes (user_id, parent_id, state, size);
CREATE INDEX nodes_children_rgt ON nodes (user_id, parent_id, rgt);
CREATE INDEX nodes_user_lft ON nodes (user_id, lft);
CREATE INDEX nodes_recycled ON nodes (user_id, recycled_at) WHERE recycled_at IS NOT NULL;
-- Across users: is this object referenced (gc, and the foreign key's check on delete)?
CREATE INDEX nodes_store_hash ON nodes (store_hash) WHERE store_hash IS NOT NULL;
-- Download links name a node by uuid alone (they are checked before any user
-- is known): the one statement that looks across users, by this index.
CREATE INDEX nodes_uuid ON nodes (uuid);

-- One per issued upload token; the callback turns it into a node exactly once.
CREATE TABLE upload_sessions (
    user_id         BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id              TEXT    COLLATE "C" NOT NULL,
    -- Where the file goes, resolved when the token was issued. The directory
    -- is re-created by path if it was removed before the callback arrives.
    dir_path        TEXT    COLLATE "C" NOT NULL,
    name            TEXT    COLLATE "C" NOT NULL,
    conflict        TEXT    NOT NULL CHECK (conflict IN ('fail', 'overwrite', 'rename')),
    declared_size   BIGINT,
    declared_hash   TEXT    COLLATE "C",
    -- The put-policy's fsizeLimit: the most bytes this session may store.
    size_limit      BIGINT  NOT NULL,
    bucket          TEXT    NOT NULL,
    object_key      TEXT    COLLATE "C" NOT NULL,
    deadline        BIGINT  NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'done', 'failed', 'expired')),
    -- The node a completed session created (its reply is replayed from it).
    -- No foreign key: SQLite's ON DELETE SET NULL cannot be kept under Citus
    -- (it refuses SET NULL on a key that includes the distribution column,
    -- even PostgreSQL 15's SET NULL (result_node_id)). A node that no longer
    -- exists reads as NULL: join on (user_id, result_node_id).
    result_node_id  BIGINT,
    -- Kept for parity with SQLite; unused (NULL).
    result_json     TEXT,
    failure_code    TEXT,
    -- A failed session's refusal, replayed to WCS retries.
    failure_status  BIGINT,
    failure_message TEXT,
    created         BIGINT  NOT NULL,
    completed       BIGINT,
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, object_key)
) PARTITION BY HASH (user_id);
CREATE TABLE upload_sessions_p0 PARTITION OF upload_sessions FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE upload_sessions_p1 PARTITION OF upload_sessions FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE upload_sessions_p2 PARTITION OF upload_sessions FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE upload_sessions_p3 PARTITION OF upload_sessions FOR VALUES WITH (MODULUS 4, REMAINDER 3);

CREATE INDEX upload_sessions_user ON upload_sessions (user_id, created);
-- A user's pending upload sessions, counted (and their declared sizes summed)
-- on every token request: the pending-session cap and quota reservation.
CREATE INDEX upload_sessions_user_pending ON upload_sessions (user_id, deadline) WHERE state = 'pending';
-- Across users: the sweeper's expired pending sessions.
CREATE INDEX upload_sessions_state_deadline ON upload_sessions (state, deadline);
-- Deleting files forgets the sessions that made them (no foreign key here, see above).
CREATE INDEX upload_sessions_result_node ON upload_sessions (user_id, result_node_id) WHERE result_node_id IS NOT NULL;
