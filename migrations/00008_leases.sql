-- +goose Up
-- Several `ddbsync follow --shared` processes of one table share its shards
-- through leases. Expiry is judged on the database's clock alone, so hosts
-- whose clocks disagree still agree on who holds what.

-- The followers of a table that are alive: each renews its row with its
-- leases. Fair shares are counted over the live rows, so a process that
-- holds no lease yet still counts.
CREATE TABLE ddbsync.followers (
    table_name   text NOT NULL REFERENCES ddbsync.streams ON DELETE CASCADE,
    owner        text NOT NULL,         -- host:pid:random, one per follow run
    started_at   timestamptz NOT NULL DEFAULT now(),
    renewed_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (table_name, owner)
);

-- One lease per shard being read. counter is the fencing token: it grows
-- each time the lease changes owner, and each page of changes commits only
-- while its reader's owner and counter still hold the row (FOR SHARE), so a
-- paused or cut-off process whose lease was taken applies nothing after.
CREATE TABLE ddbsync.leases (
    table_name   text NOT NULL,
    shard_id     text NOT NULL,
    owner        text NOT NULL,
    counter      bigint NOT NULL DEFAULT 1,
    taken_at     timestamptz NOT NULL DEFAULT now(),
    renewed_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (table_name, shard_id),
    FOREIGN KEY (table_name, shard_id) REFERENCES ddbsync.shards ON DELETE CASCADE
);

-- What each shard proves for the watermark, published by the process that
-- reads it: every change of the shard created before proven_until is
-- applied. W of a shared follow is the minimum over the shards that bound
-- it (store.Leases.PublishWatermark).
ALTER TABLE ddbsync.shards ADD COLUMN proven_until timestamptz;

-- +goose Down
ALTER TABLE ddbsync.shards DROP COLUMN proven_until;
DROP TABLE ddbsync.leases;
DROP TABLE ddbsync.followers;
