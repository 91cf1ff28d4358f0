-- +goose Up
-- Tables that keep every version of their items in <schema>.<table>_history
-- (load/follow --history, or history: true in the configuration file). A
-- row here is the switch: every command that writes the copy reads it and
-- records its versions in the same transaction as its rows.
CREATE TABLE ddbsync.history (
    table_name    text PRIMARY KEY REFERENCES ddbsync.tables ON DELETE CASCADE,
    history_from  timestamptz NOT NULL,     -- T of the load that started the current history: as-of refuses earlier instants
    retention     interval,                 -- versions whose valid_to is older are dropped; null keeps them all
    enabled_at    timestamptz NOT NULL DEFAULT now(),
    pruned_at     timestamptz               -- when retention last ran
);

-- +goose Down
DROP TABLE ddbsync.history;
