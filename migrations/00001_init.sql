-- +goose Up
-- Bookkeeping for ddbsync lives in its own schema, apart from the data
-- tables analysts query.
CREATE SCHEMA IF NOT EXISTS ddbsync;

-- One row per DynamoDB table ddbsync serves: where its copy lives, its key,
-- and the export it was last loaded from.
CREATE TABLE ddbsync.tables (
    table_name   text PRIMARY KEY,          -- the DynamoDB table name
    pg_schema    text NOT NULL,
    pg_table     text NOT NULL,
    key_schema   text NOT NULL,             -- "id:S" or "pk:S,sk:N", as --key takes it
    load_id      bigint,
    export_arn   text,
    export_time  timestamptz,               -- T: the instant the loaded data reflects
    item_count   bigint,
    loaded_at    timestamptz,
    UNIQUE (pg_schema, pg_table)
);

-- One row per load of an export. A load copies into its own table in this
-- schema and is published by swapping that table in; until then readers see
-- the previous copy.
CREATE TABLE ddbsync.loads (
    load_id      bigserial PRIMARY KEY,
    table_name   text NOT NULL,
    export_arn   text NOT NULL,
    export_time  timestamptz,
    source       text NOT NULL,             -- where the export was read from
    pg_schema    text NOT NULL,
    pg_table     text NOT NULL,
    key_schema   text NOT NULL,
    state        text NOT NULL DEFAULT 'loading'
                 CHECK (state IN ('loading', 'published', 'abandoned')),
    files_total  integer NOT NULL,
    items_total  bigint NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
-- At most one unfinished load per table: a rerun resumes it.
CREATE UNIQUE INDEX loads_one_loading ON ddbsync.loads (table_name) WHERE state = 'loading';

-- The data files a load has copied, each written in the same transaction as
-- its rows, so a resumed load skips exactly these.
CREATE TABLE ddbsync.load_files (
    load_id      bigint NOT NULL REFERENCES ddbsync.loads ON DELETE CASCADE,
    file_name    text NOT NULL,             -- relative to the export folder
    item_count   bigint NOT NULL,
    md5          text NOT NULL,
    bytes        bigint NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (load_id, file_name)
);

-- +goose Down
DROP SCHEMA ddbsync CASCADE;
