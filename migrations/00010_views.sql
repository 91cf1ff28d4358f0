-- +goose Up
-- Conversions the typed views (`ddbsync views`) use where a plain cast could
-- fail: a SELECT on a view must never fail on a value, so each returns NULL
-- for text that is not exactly the shape the inference accepted (the
-- inference then saw no such value: it chose the type only when every value
-- parsed). The shapes are reconcile/views' (infer.go), kept in step.

-- view_is_day: year (1 to 9999), month and day make a real day, so that
-- the casts below cannot fail. No exception handler: a handler starts a
-- subtransaction, which a parallel query refuses.
-- +goose StatementBegin
CREATE FUNCTION ddbsync.view_is_day(y int, m int, d int) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT y >= 1 AND m BETWEEN 1 AND 12 AND d >= 1
        AND d <= extract(day FROM make_date(y, m, 1) + interval '1 month' - interval '1 day')
$$;
-- +goose StatementEnd

-- view_date reads YYYY-MM-DD.
-- +goose StatementBegin
CREATE FUNCTION ddbsync.view_date(s text) RETURNS date
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF s !~ '^\d{4}-\d{2}-\d{2}$'
        OR NOT ddbsync.view_is_day(substr(s, 1, 4)::int, substr(s, 6, 2)::int, substr(s, 9, 2)::int) THEN
        RETURN NULL;
    END IF;
    RETURN make_date(substr(s, 1, 4)::int, substr(s, 6, 2)::int, substr(s, 9, 2)::int);
END $$;
-- +goose StatementEnd

-- view_timestamptz reads a date, or a date and time with an optional
-- fraction and zone (within ±14 hours); without a zone the time is UTC
-- (never the session's time zone).
-- +goose StatementBegin
CREATE FUNCTION ddbsync.view_timestamptz(s text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    p text[];
BEGIN
    p := regexp_match(s, '^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$');
    IF p IS NULL OR NOT ddbsync.view_is_day(p[1]::int, p[2]::int, p[3]::int)
        OR coalesce(p[4]::int, 0) > 23 OR coalesce(p[5]::int, 0) > 59 OR coalesce(p[6]::int, 0) > 59
        OR (length(p[8]) > 1 AND (substr(p[8], 2, 2)::int > 14 OR (length(p[8]) > 3 AND right(p[8], 2)::int > 59))) THEN
        RETURN NULL;
    END IF;
    IF p[4] IS NULL THEN
        RETURN make_date(p[1]::int, p[2]::int, p[3]::int)::timestamp AT TIME ZONE 'UTC';
    END IF;
    IF p[8] IS NULL THEN
        RETURN s::timestamp AT TIME ZONE 'UTC';
    END IF;
    RETURN s::timestamptz;
END $$;
-- +goose StatementEnd

-- view_nul_text reads a string the item column holds as {"S0": base64}
-- because it contains U+0000, which text cannot hold: U+0000 is shown as
-- U+FFFD, as in the doc column; the exact string stays in item.
-- +goose StatementBegin
CREATE FUNCTION ddbsync.view_nul_text(b64 text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    b bytea := decode(b64, 'base64');
    out bytea := ''::bytea;
    i int;
BEGIN
    FOR i IN 0 .. length(b) - 1 LOOP
        IF get_byte(b, i) = 0 THEN
            out := out || '\xefbfbd'::bytea;
        ELSE
            out := out || substring(b FROM i + 1 FOR 1);
        END IF;
    END LOOP;
    RETURN convert_from(out, 'UTF8');
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION ddbsync.view_nul_text(text);
DROP FUNCTION ddbsync.view_timestamptz(text);
DROP FUNCTION ddbsync.view_date(text);
DROP FUNCTION ddbsync.view_is_day(int, int, int);
