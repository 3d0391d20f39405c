-- As SQLite's 0020: search by name (issue #28, `POST /v1/files/search`), a
-- case-insensitive substring match served by a trigram index (pg_trgm, a
-- contrib extension, trusted since PostgreSQL 13: a database owner may
-- create it).
--
-- Case is folded by ICU's root locale (`und-x-icu`), not the database's
-- ctype: a cluster made with the C locale (as the tests' `--no-locale`)
-- lowers only ASCII, and `Ä` must find `ä` on every deployment. The query
-- (NameSearch) lowers the pattern the same way and compares with LIKE (its
-- `%`, `_` and `\` escaped), so the index's expression must match it exactly.
--
-- Like every index of `nodes`, it is built on each hash partition; the query
-- always names `user_id`, so it reads one partition's index. (A trigram
-- index cannot start with user_id without btree_gin; within the partition,
-- the matches are joined to the user's rows, as the SQLite index does.)
-- Creating the index indexes the nodes already here.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX nodes_name_trigrams ON nodes USING gin (lower(name COLLATE "und-x-icu") gin_trgm_ops);
