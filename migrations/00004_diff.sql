-- +goose Up
-- One row per `ddbsync diff`: what the copy was compared with, at which
-- instant, and what was found. Written when the diff starts (state
-- 'running') and updated when it ends.
CREATE TABLE ddbsync.diff_runs (
    diff_id       bigserial PRIMARY KEY,
    table_name    text NOT NULL,
    source_kind   text NOT NULL CHECK (source_kind IN ('export', 'scan')),
    source        text NOT NULL,             -- the export's ARN and folder, or "scan of TABLE (N segments)"
    instant       timestamptz,               -- I: the export time, or the scan's start
    scan_end      timestamptz,               -- scans only: when the last segment ended
    watermark     timestamptz,               -- the copy's W when compared (null: compared with its own export)
    skew          interval NOT NULL,         -- copy rows and tombstones at or after I - skew are in flight
    state         text NOT NULL DEFAULT 'running'
                  CHECK (state IN ('running', 'consistent', 'inconsistent', 'failed')),
    source_items  bigint,
    copy_rows     bigint,
    missing       bigint,                    -- in the source, not in PostgreSQL
    extra         bigint,                    -- in PostgreSQL, not in the source
    different     bigint,                    -- in both, with different images
    in_flight     bigint,                    -- differences explained by changes at or after I - skew
    repaired      bigint,                    -- rows --repair changed (null: no repair asked)
    error         text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX diff_runs_table ON ddbsync.diff_runs (table_name, diff_id DESC);

-- Every row `ddbsync diff --repair` changed, with the images before and
-- after (null when the row did not exist, or was deleted).
CREATE TABLE ddbsync.repairs (
    diff_id       bigint NOT NULL REFERENCES ddbsync.diff_runs ON DELETE CASCADE,
    table_name    text NOT NULL,
    key           jsonb NOT NULL,            -- the key attributes, lossless DynamoDB JSON
    kind          text NOT NULL CHECK (kind IN ('missing', 'extra', 'different')),
    before        jsonb,                     -- the copy's item before the repair
    after         jsonb,                     -- the source's item, now in the copy
    repaired_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (diff_id, key)
);

-- +goose Down
DROP TABLE ddbsync.repairs;
DROP TABLE ddbsync.diff_runs;
