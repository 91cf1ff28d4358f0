-- +goose Up
-- Conversions the typed views (`ddbsync views`) use where a plain cast could
-- fail: a SELECT on a view must never fail on a value, so each returns NULL
-- for text that is not exactly the shape the inference accepted (the
-- inference then saw no such value: it chose the type only when every value
-- parsed). The shapes are reconcile/views' (infer.go), kept in step.

-- view_date reads YYYY-MM-DD.
-- +goose StatementBegin
CREATE FUNCTION ddbsync.view_date(s text) RETURNS date
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF s !~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN NULL;
    END IF;
    RETURN s::date;
EXCEPTION WHEN data_exception THEN
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- view_timestamptz reads a date, or a date and time with an optional
-- fraction and zone; without a zone the time is UTC (never the session's).
-- +goose StatementBegin
CREATE FUNCTION ddbsync.view_timestamptz(s text) RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF s ~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN s::date::timestamp AT TIME ZONE 'UTC';
    END IF;
    IF s !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$' THEN
        RETURN NULL;
    END IF;
    IF s ~ ':\d{2}(\.\d+)?$' THEN
        RETURN s::timestamp AT TIME ZONE 'UTC';
    END IF;
    RETURN s::timestamptz;
EXCEPTION WHEN data_exception THEN
    RETURN NULL;
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
EXCEPTION WHEN data_exception OR character_not_in_repertoire OR untranslatable_character THEN
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION ddbsync.view_nul_text(text);
DROP FUNCTION ddbsync.view_timestamptz(text);
DROP FUNCTION ddbsync.view_date(text);
