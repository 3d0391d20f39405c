-- Zip downloads of a folder or a selection (issue #26): `POST /v1/files/zip`
-- records what was chosen here and hands out a short-lived signed link to
-- `GET /zip/<id>`, which reads this row and snapshots the tree in one read
-- transaction. The selection (up to 1,000 node uuids) is too long for a URL,
-- and several servers share the database, so it lives in the database, not in
-- one server's memory. `sources`: the uuids, comma-separated, in the order
-- given. Rows past `expires_at` (ms) are pruned by the user's next request;
-- a user holds at most a few live ones (`ZipLimits`).
CREATE TABLE zip_links (
    user_id    INTEGER NOT NULL,
    id         TEXT    NOT NULL,
    sources    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, id)
);
