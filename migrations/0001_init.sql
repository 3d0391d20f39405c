-- Pan's schema, version 1: users, their file trees, stored content objects,
-- and upload sessions. Times are Unix milliseconds.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    phone           TEXT    UNIQUE,
    email           TEXT,
    country_code    TEXT    NOT NULL DEFAULT '86',
    -- "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>" over the MD5 hex of the password.
    password_hash   TEXT    NOT NULL,
    space_used      INTEGER NOT NULL DEFAULT 0 CHECK (space_used >= 0),
    space_capacity  INTEGER NOT NULL DEFAULT 10737418240 CHECK (space_capacity >= 0),
    type            INTEGER NOT NULL DEFAULT 0,
    -- 0 active, 1 disabled
    status          INTEGER NOT NULL DEFAULT 0,
    icon            TEXT    NOT NULL DEFAULT '',
    -- Bumped by logout and password changes: tokens carrying an older value are revoked.
    token_version   INTEGER NOT NULL DEFAULT 0,
    create_time     INTEGER NOT NULL
);

-- Content objects in the bucket, shared by every node with the same content hash.
CREATE TABLE store_objects (
    hash        TEXT    PRIMARY KEY,
    size        INTEGER NOT NULL CHECK (size >= 0),
    mime        TEXT    NOT NULL DEFAULT 'application/octet-stream',
    bucket      TEXT    NOT NULL,
    object_key  TEXT    NOT NULL,
    -- Live and recycled nodes pointing here; at 0 the object is garbage (`pan store gc`).
    ref_count   INTEGER NOT NULL DEFAULT 0 CHECK (ref_count >= 0),
    created     INTEGER NOT NULL
) WITHOUT ROWID;

-- Every user's tree, rooted at one node with parent_id NULL and path '/'.
-- lft/rgt: gapped nested-set intervals (see PanCore/Tree/IntervalAllocator.swift).
CREATE TABLE nodes (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT    NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    parent_id   INTEGER REFERENCES nodes(id),
    name        TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    path_id     TEXT    NOT NULL,
    -- 0 file, 1 directory
    type        INTEGER NOT NULL CHECK (type IN (0, 1)),
    ext         TEXT    NOT NULL DEFAULT '',
    mime        TEXT    NOT NULL,
    size        INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
    store_hash  TEXT    REFERENCES store_objects(hash),
    lft         INTEGER NOT NULL,
    rgt         INTEGER NOT NULL,
    version     INTEGER NOT NULL DEFAULT 0,
    locking     INTEGER NOT NULL DEFAULT 0,
    preview     INTEGER NOT NULL DEFAULT 0,
    flag        INTEGER NOT NULL DEFAULT 0,
    atime       INTEGER NOT NULL,
    ctime       INTEGER NOT NULL,
    mtime       INTEGER NOT NULL,
    -- 0 live, 1 in the recycle bin
    state       INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1)),
    CHECK (lft < rgt),
    CHECK ((type = 0) = (store_hash IS NOT NULL)),
    CHECK ((parent_id IS NULL) = (path = '/'))
);

-- Live names are unique per directory: enforced here, not only in code.
CREATE UNIQUE INDEX nodes_live_name ON nodes (parent_id, name) WHERE state = 0;
CREATE UNIQUE INDEX nodes_live_path ON nodes (user_id, path_id) WHERE state = 0;
CREATE UNIQUE INDEX nodes_one_root ON nodes (user_id) WHERE parent_id IS NULL;
-- Listing a directory by creation time / name / size, and finding its last child interval.
CREATE INDEX nodes_children_ctime ON nodes (parent_id, state, ctime);
CREATE INDEX nodes_children_rgt ON nodes (parent_id, rgt);
CREATE INDEX nodes_user_lft ON nodes (user_id, lft);
CREATE INDEX nodes_store_hash ON nodes (store_hash) WHERE store_hash IS NOT NULL;

-- One per issued upload token; the callback turns it into a node exactly once.
CREATE TABLE upload_sessions (
    id              TEXT    PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- Where the file goes, resolved when the token was issued. The directory
    -- is re-created by path if it was removed before the callback arrives.
    dir_path        TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    conflict        TEXT    NOT NULL CHECK (conflict IN ('fail', 'overwrite', 'rename')),
    declared_size   INTEGER,
    declared_hash   TEXT,
    -- The put-policy's fsizeLimit: the most bytes this session may store.
    size_limit      INTEGER NOT NULL,
    bucket          TEXT    NOT NULL,
    object_key      TEXT    NOT NULL UNIQUE,
    deadline        INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'done', 'failed', 'expired')),
    result_node_id  INTEGER REFERENCES nodes(id) ON DELETE SET NULL,
    -- The exact reply of the accepted (or refused) callback, replayed to WCS retries.
    result_json     TEXT,
    failure_code    TEXT,
    created         INTEGER NOT NULL,
    completed       INTEGER
);
CREATE INDEX upload_sessions_state_deadline ON upload_sessions (state, deadline);
CREATE INDEX upload_sessions_user ON upload_sessions (user_id, created);
