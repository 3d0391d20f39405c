-- As SQLite's 0009: listing versions of the directories being paged, bumped
-- by a trigger in the transaction of every change to their children's set or
-- order (TreeRepository.children, ListingCache). Rows lead with user_id, so
-- the table can be distributed like nodes and the bump stays on the child's
-- own shard.
CREATE TABLE listing_versions (
    user_id      BIGINT NOT NULL,
    directory_id BIGINT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, directory_id)
);

CREATE FUNCTION nodes_bump_listing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' AND NEW.parent_id IS NOT NULL THEN
        UPDATE listing_versions SET version = version + 1 WHERE user_id = NEW.user_id AND directory_id = NEW.parent_id;
    END IF;
    IF TG_OP <> 'INSERT' AND OLD.parent_id IS NOT NULL
       AND (TG_OP = 'DELETE' OR OLD.parent_id IS DISTINCT FROM NEW.parent_id) THEN
        UPDATE listing_versions SET version = version + 1 WHERE user_id = OLD.user_id AND directory_id = OLD.parent_id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        DELETE FROM listing_versions WHERE user_id = OLD.user_id AND directory_id = OLD.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER nodes_listing AFTER INSERT OR DELETE OR UPDATE OF parent_id, state, name, type, ctime, size ON nodes
FOR EACH ROW EXECUTE FUNCTION nodes_bump_listing();
