-- +goose Up
-- The stream a table's copy follows, and how far it has got. A new load of
-- the table replaces the row: following restarts from the new export's time.
CREATE TABLE ddbsync.streams (
    table_name    text PRIMARY KEY REFERENCES ddbsync.tables ON DELETE CASCADE,
    stream_arn    text NOT NULL,
    start_time    timestamptz NOT NULL,     -- T minus the skew allowance: earlier changes are skipped
    watermark     timestamptz,              -- W: every change created before W is applied
    watermark_shard text,                   -- the shard holding W back
    accepted_gap  text,                     -- set when an operator went on past a gap with --accept-gap
    started_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Per-shard checkpoints, written in the same transaction as the rows they
-- cover. Every shard ever listed gets a row, so one that vanishes before it
-- is finished is noticed.
CREATE TABLE ddbsync.shards (
    table_name      text NOT NULL REFERENCES ddbsync.streams ON DELETE CASCADE,
    shard_id        text NOT NULL,
    parent_shard_id text,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'reading', 'finished', 'gap')),
    last_sequence   numeric,                -- the last record applied (or skipped as too old)
    first_record_time timestamptz,
    last_record_time  timestamptz,
    changes_applied bigint NOT NULL DEFAULT 0,
    ttl_removes     bigint NOT NULL DEFAULT 0,
    detail          text,                   -- for state 'gap': what was lost
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, shard_id)
);

-- +goose Down
DROP TABLE ddbsync.shards;
DROP TABLE ddbsync.streams;
