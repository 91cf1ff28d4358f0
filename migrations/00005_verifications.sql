-- +goose Up
-- Every mismatch `ddbsync follow --verify` found: a key whose item, read
-- from DynamoDB with a strongly consistent read, differs from its row in
-- the copy once the watermark had passed the read. Both images are kept.
CREATE TABLE ddbsync.verifications (
    verification_id      bigserial PRIMARY KEY,
    table_name           text NOT NULL,
    key                  jsonb NOT NULL,           -- the key attributes, lossless DynamoDB JSON
    kind                 text NOT NULL CHECK (kind IN ('missing', 'extra', 'different')),
    dynamodb_item        jsonb,                    -- what DynamoDB held (null: no item)
    copy_item            jsonb,                    -- what the copy held (null: no row)
    copy_origin          text,                     -- the copy row's provenance, as compared
    copy_origin_time     timestamptz,
    copy_shard_id        text,
    copy_sequence_number numeric,
    read_from            timestamptz NOT NULL,     -- r: taken just before the read
    read_to              timestamptz NOT NULL,     -- when the read had ended
    watermark            timestamptz NOT NULL,     -- W when compared: at or after read_to + in_flight_window
    in_flight_window     interval NOT NULL,        -- rows changed at or after read_from minus this were skipped
    action               text NOT NULL CHECK (action IN ('logged', 'stopped', 'repaired', 'superseded')),
    detected_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX verifications_table ON ddbsync.verifications (table_name, verification_id DESC);

-- A table's running verification totals, for status.
CREATE TABLE ddbsync.verify_totals (
    table_name       text PRIMARY KEY,
    keys_checked     bigint NOT NULL DEFAULT 0,  -- compared (not in flight)
    in_flight        bigint NOT NULL DEFAULT 0,  -- read, then skipped: changed at or after the read minus the window
    mismatches       bigint NOT NULL DEFAULT 0,
    repaired         bigint NOT NULL DEFAULT 0,
    last_check_at    timestamptz,
    last_mismatch_at timestamptz
);

-- A repair is now a diff's or a verification's: exactly one of the two.
ALTER TABLE ddbsync.repairs
    DROP CONSTRAINT repairs_pkey,
    ALTER COLUMN diff_id DROP NOT NULL,
    ADD COLUMN verification_id bigint REFERENCES ddbsync.verifications ON DELETE CASCADE,
    ADD COLUMN repair_id bigserial PRIMARY KEY,
    ADD CONSTRAINT repairs_one_source CHECK (num_nonnulls(diff_id, verification_id) = 1);
CREATE UNIQUE INDEX repairs_diff_key ON ddbsync.repairs (diff_id, key) WHERE diff_id IS NOT NULL;

-- +goose Down
DELETE FROM ddbsync.repairs WHERE diff_id IS NULL;
DROP INDEX ddbsync.repairs_diff_key;
ALTER TABLE ddbsync.repairs
    DROP CONSTRAINT repairs_one_source,
    DROP COLUMN repair_id,
    DROP COLUMN verification_id,
    ALTER COLUMN diff_id SET NOT NULL,
    ADD PRIMARY KEY (diff_id, key);
DROP TABLE ddbsync.verify_totals;
DROP TABLE ddbsync.verifications;
