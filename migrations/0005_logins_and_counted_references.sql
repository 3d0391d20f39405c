-- Logins: every user's name and phone, unique across users, in a table keyed
-- by the login itself. `users` keeps its own UNIQUE columns here (SQLite cannot
-- drop them); on PostgreSQL `users` is keyed by id alone, so it can be
-- distributed by user together with the trees (migrations/postgres/).
CREATE TABLE logins (
    login    TEXT    PRIMARY KEY,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind     TEXT    NOT NULL CHECK (kind IN ('name', 'phone'))
) WITHOUT ROWID;
INSERT INTO logins (login, user_id, kind) SELECT name, id, 'name' FROM users;
INSERT OR IGNORE INTO logins (login, user_id, kind) SELECT phone, id, 'phone' FROM users WHERE phone IS NOT NULL;
CREATE INDEX logins_user ON logins (user_id);

-- References to content objects are counted from `nodes` (the index
-- nodes_store_hash), not kept in a shared counter that every upload of the
-- same content would write: `pan store gc` is mark-and-sweep.
ALTER TABLE store_objects DROP COLUMN ref_count;
