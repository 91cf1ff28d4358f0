-- +goose Up
-- Incremental exports (ExportType INCREMENTAL_EXPORT): `ddbsync load` of
-- one applies the changes of its window [export_from, export_to) onto a
-- loaded copy; `heal` and `sync` request them.

-- A load is of a full export (copied into a new table, then swapped in) or
-- of an incremental one (staged, then applied onto the published copy).
ALTER TABLE ddbsync.loads
    ADD COLUMN export_type text NOT NULL DEFAULT 'FULL_EXPORT'
        CHECK (export_type IN ('FULL_EXPORT', 'INCREMENTAL_EXPORT')),
    ADD COLUMN export_from timestamptz,     -- incremental: the window's start, inclusive
    ADD COLUMN export_to   timestamptz;     -- incremental: the window's end, exclusive

-- What the copy's export_time T is: a full export's instant (fuzzy by about
-- a minute), or the end of the last incremental export applied (exact: the
-- window is cut by DynamoDB's own write timestamps).
ALTER TABLE ddbsync.tables
    ADD COLUMN export_type text NOT NULL DEFAULT 'FULL_EXPORT'
        CHECK (export_type IN ('FULL_EXPORT', 'INCREMENTAL_EXPORT'));

-- An incremental export's deletion has no shard and no sequence number:
-- removed_at is its write time.
ALTER TABLE ddbsync.tombstones
    ALTER COLUMN shard_id DROP NOT NULL,
    ALTER COLUMN sequence_number DROP NOT NULL;

-- Rows applied from an incremental export carry origin 'incremental'. Data
-- tables created before this migration accept 'export' and 'stream' (and
-- 'scan' after a repair from a scan): widen each one's origin CHECK to every
-- origin. NOT VALID: the rows already there are not re-checked.
-- +goose StatementBegin
DO $$
DECLARE
    t record;
    c record;
BEGIN
    FOR t IN
        SELECT r.oid, n.nspname, r.relname
        FROM ddbsync.tables d
        JOIN pg_namespace n ON n.nspname = d.pg_schema
        JOIN pg_class r ON r.relnamespace = n.oid AND r.relname = d.pg_table AND r.relkind IN ('r', 'p')
    LOOP
        FOR c IN
            SELECT conname FROM pg_constraint
            WHERE conrelid = t.oid AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%origin%'
        LOOP
            EXECUTE format('ALTER TABLE %I.%I DROP CONSTRAINT %I', t.nspname, t.relname, c.conname);
        END LOOP;
        EXECUTE format('ALTER TABLE %I.%I ADD CONSTRAINT %I CHECK (origin IN (''export'', ''stream'', ''incremental'', ''scan'', ''verify'')) NOT VALID',
            t.nspname, t.relname, left(t.relname, 50) || '_origin_check');
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE ddbsync.tables DROP COLUMN export_type;
ALTER TABLE ddbsync.loads DROP COLUMN export_to, DROP COLUMN export_from, DROP COLUMN export_type;
