-- +goose Up
-- Keys the stream removed from a data table, with when. A deleted row
-- leaves nothing behind in the data table, yet a diff must tell "removed
-- after the source's instant" (in flight) from "missing". A new load of the
-- table clears them.
CREATE TABLE ddbsync.tombstones (
    table_name      text NOT NULL,
    key             jsonb NOT NULL,         -- the key attributes, lossless DynamoDB JSON
    removed_at      timestamptz NOT NULL,   -- the REMOVE's ApproximateCreationDateTime
    shard_id        text NOT NULL,
    sequence_number numeric NOT NULL,
    ttl             boolean NOT NULL DEFAULT false,
    PRIMARY KEY (table_name, key)
);

-- +goose Down
DROP TABLE ddbsync.tombstones;
