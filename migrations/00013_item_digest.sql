-- +goose Up
-- A data table's item_digest (md5 of item::text, which a diff compares with
-- the source's digest) was a stored generated column: PostgreSQL printed and
-- hashed every item it was given, twice in an INSERT … ON CONFLICT DO UPDATE,
-- which was about half the server's time of a stream apply. ddbsync's writers
-- now send it, computed as they encode the row. The digest triggers keep the
-- column right for anyone else's writes: a row inserted without a digest, or
-- an UPDATE that changes item and leaves the digest as it was, gets it
-- computed here. ddbsync sends the digest, so for its rows the triggers'
-- WHEN is false.

-- +goose StatementBegin
CREATE FUNCTION ddbsync.item_digest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.item_digest := md5(NEW.item::text)::uuid;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- Every published copy and every unpublished load table: a generated
-- item_digest becomes a plain column, its values kept (no rewrite:
-- DROP EXPRESSION, PostgreSQL 13 and later); a copy loaded before the
-- column existed gains it, empty (a diff computes the digests of rows
-- without one); both get the triggers.
-- +goose StatementBegin
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT n.nspname, r.relname, a.attgenerated, a.attnum IS NOT NULL AS has_digest
        FROM pg_class r
        JOIN pg_namespace n ON n.oid = r.relnamespace
        LEFT JOIN pg_attribute a ON a.attrelid = r.oid AND a.attname = 'item_digest' AND NOT a.attisdropped
        WHERE r.relkind = 'r'
          AND ((n.nspname, r.relname) IN (SELECT pg_schema, pg_table FROM ddbsync.tables)
               OR (n.nspname = 'ddbsync' AND r.relname ~ '^load_[0-9]+$'))
    LOOP
        IF t.attgenerated = 's' THEN
            EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN item_digest DROP EXPRESSION', t.nspname, t.relname);
        ELSIF NOT t.has_digest THEN
            EXECUTE format('ALTER TABLE %I.%I ADD COLUMN item_digest uuid', t.nspname, t.relname);
        END IF;
        EXECUTE format('CREATE TRIGGER item_digest_on_insert BEFORE INSERT ON %I.%I FOR EACH ROW'
            ' WHEN (NEW.item_digest IS NULL) EXECUTE FUNCTION ddbsync.item_digest()', t.nspname, t.relname);
        EXECUTE format('CREATE TRIGGER item_digest_on_update BEFORE UPDATE OF item, item_digest ON %I.%I FOR EACH ROW'
            ' WHEN (NEW.item_digest IS NULL OR NEW.item_digest = OLD.item_digest) EXECUTE FUNCTION ddbsync.item_digest()',
            t.nspname, t.relname);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The triggers go with their function; the columns stay plain (making them
-- generated again would rewrite every table).
DROP FUNCTION ddbsync.item_digest() CASCADE;
