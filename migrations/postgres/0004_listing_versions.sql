-- As SQLite's 0009: a directory's listing version, bumped by a trigger in
-- the transaction of every change to its children's set or order
-- (TreeRepository.children, ListingCache). The parent is addressed with its
-- user_id, so the bump stays on the child's own shard when nodes is
-- distributed by user_id.
ALTER TABLE nodes ADD COLUMN children_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION nodes_bump_listing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' AND NEW.parent_id IS NOT NULL THEN
        UPDATE nodes SET children_version = children_version + 1 WHERE user_id = NEW.user_id AND id = NEW.parent_id;
    END IF;
    IF TG_OP <> 'INSERT' AND OLD.parent_id IS NOT NULL
       AND (TG_OP = 'DELETE' OR OLD.parent_id IS DISTINCT FROM NEW.parent_id) THEN
        UPDATE nodes SET children_version = children_version + 1 WHERE user_id = OLD.user_id AND id = OLD.parent_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER nodes_listing AFTER INSERT OR DELETE OR UPDATE OF parent_id, state, name, type, ctime, size ON nodes
FOR EACH ROW EXECUTE FUNCTION nodes_bump_listing();
