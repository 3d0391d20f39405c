-- As SQLite's 0014: what `POST /v1/files/zip` chose, read by `GET /zip/<id>`.
CREATE TABLE zip_links (
    user_id    BIGINT NOT NULL,
    id         TEXT   NOT NULL,
    sources    TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, id)
);
