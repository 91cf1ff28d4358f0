-- +goose Up
-- `ddbsync load --worker`: several processes copy the data files of one
-- export. Each file records the worker that copied it, and the load the
-- worker that published it, so that `status` shows the share of each and a
-- late worker can say who published.
ALTER TABLE ddbsync.load_files ADD COLUMN worker text;
ALTER TABLE ddbsync.loads ADD COLUMN published_by text;

-- +goose Down
ALTER TABLE ddbsync.loads DROP COLUMN published_by;
ALTER TABLE ddbsync.load_files DROP COLUMN worker;
