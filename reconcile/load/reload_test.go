package load_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/load"
)

// newReload loads the table once from an export of 300 items at reconciletest.T0 and
// returns a function that reloads it from another export of 500 items an
// hour later.
func newReload(t *testing.T) (*pgxpool.Pool, reconcile.Layout, func(cfg load.Config) (load.Result, error)) {
	t.Helper()
	pool := pgtest.New(t)
	l := reconciletest.TenureLayout(t, "")
	_, err := load.Run(t.Context(), pool, reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 2, reconciletest.TenureItems(1, 300)).Open(), load.Config{Layout: l, Doc: new(true)})
	require.NoError(t, err)
	second := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0.Add(time.Hour), 3, reconciletest.TenureItems(2, 500)).Open()
	reload := func(cfg load.Config) (load.Result, error) {
		if cfg.Layout.Table == "" {
			cfg.Layout = l
		}
		return load.Run(t.Context(), pool, second, cfg)
	}
	return pool, l, reload
}

// newRole creates a login-less role for the test, dropped afterwards.
func newRole(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	name := fmt.Sprintf("ddbsync_test_%x", rand.Uint64())
	_, err := pool.Exec(t.Context(), "CREATE ROLE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP OWNED BY "+name+"; DROP ROLE "+name)
	})
	return name
}

func mustExec(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	_, err := pool.Exec(t.Context(), sql)
	require.NoError(t, err, sql)
}

// describe reads what users may build on relation rel, as text that does
// not depend on the relation's oid, for before/after comparisons.
func describe(t *testing.T, pool *pgxpool.Pool, rel string) map[string]string {
	t.Helper()
	queries := map[string]string{
		"owner":  `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = $1::regclass`,
		"kind":   `SELECT relkind::text || coalesce(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = $1::regclass`,
		"rls":    `SELECT relrowsecurity::text || relforcerowsecurity::text FROM pg_class WHERE oid = $1::regclass`,
		"grants": `SELECT coalesce(string_agg(format('%s:%s:%s', grantee, privilege_type, is_grantable), ' ' ORDER BY grantee, privilege_type), '') FROM (SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee, a.privilege_type, a.is_grantable FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = $1::regclass) x`,
		"colgrants": `SELECT coalesce(string_agg(format('%s:%s:%s:%s', attname, pg_get_userbyid(a.grantee), a.privilege_type, a.is_grantable), ' '
			ORDER BY attname, pg_get_userbyid(a.grantee), a.privilege_type), '') FROM pg_attribute, aclexplode(attacl) a WHERE attrelid = $1::regclass`,
		// ddbsync's own comment names the export: only a user's must stay.
		"comment": `SELECT regexp_replace(coalesce(obj_description($1::regclass, 'pg_class'), ''),
			'^(DynamoDB table \S+, managed by ddbsync): loaded from export \S+$', '\1')`,
		"colcomments": `SELECT coalesce(string_agg(attname || '=' || col_description(attrelid, attnum), ' ' ORDER BY attname), '')
			FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND col_description(attrelid, attnum) IS NOT NULL`,
		"indexes": `SELECT coalesce(string_agg(pg_get_indexdef(indexrelid) || coalesce(' -- ' || obj_description(indexrelid, 'pg_class'), ''), E'\n' ORDER BY pg_get_indexdef(indexrelid)), '')
			FROM pg_index WHERE indrelid = $1::regclass`,
		"policies": `SELECT coalesce(string_agg(format('%s %s %s %s %s %s %s', policyname, permissive, roles, cmd, qual, with_check,
				obj_description(p.oid, 'pg_policy')), E'\n' ORDER BY policyname), '')
			FROM pg_policies pp JOIN pg_policy p ON p.polname = pp.policyname AND p.polrelid = $1::regclass
			WHERE format('%I.%I', pp.schemaname, pp.tablename)::regclass = $1::regclass`,
		"view": `SELECT coalesce(pg_get_viewdef($1::regclass), '')`,
	}
	out := map[string]string{}
	for k, q := range queries {
		var s string
		require.NoError(t, pool.QueryRow(t.Context(), q, rel).Scan(&s), k)
		out[k] = s
	}
	return out
}

func exists(t *testing.T, pool *pgxpool.Pool, rel string) bool {
	t.Helper()
	var ok bool
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT to_regclass($1) IS NOT NULL`, rel).Scan(&ok))
	return ok
}

func countRows(t *testing.T, pool *pgxpool.Pool, rel string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT count(*) FROM "+rel).Scan(&n))
	return n
}

// requireKept reloads and checks that each relation is described the same
// before and after, and that the table holds the second export.
//
// swapped says how the reload must have published: by swapping in the load
// table (a new relation) or by copying rows into the existing one.
func requireKept(t *testing.T, pool *pgxpool.Pool, reload func(load.Config) (load.Result, error), swapped bool, rels ...string) {
	t.Helper()
	before := map[string]map[string]string{}
	for _, r := range rels {
		before[r] = describe(t, pool, r)
	}
	oid := relationOID(t, pool)
	res, err := reload(load.Config{})
	require.NoError(t, err)
	require.Equal(t, swapped, oid != relationOID(t, pool), "swapped relations")
	require.EqualValues(t, 500, res.Items)
	require.Equal(t, 500, countRows(t, pool, "dynamodb.tenure_information"))
	for _, r := range rels {
		require.Equal(t, before[r], describe(t, pool, r), "what was built on %s changed", r)
	}
}

func relationOID(t *testing.T, pool *pgxpool.Pool) uint32 {
	t.Helper()
	var oid uint32
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT 'dynamodb.tenure_information'::regclass::oid`).Scan(&oid))
	return oid
}

func TestReload_KeepsDependentViews(t *testing.T) {
	t.Parallel()
	pool, _, reload := newReload(t)
	role := newRole(t, pool)
	mustExec(t, pool, `CREATE SCHEMA reports;
		CREATE VIEW reports.active WITH (security_barrier = true) AS
			SELECT id, doc->>'paymentReference' AS payment_reference FROM dynamodb.tenure_information WHERE doc->>'endOfTenureDate' IS NULL;
		CREATE VIEW public.active_ids AS SELECT id FROM reports.active;
		CREATE VIEW public.everything AS SELECT t.*, a.id AS active_id FROM dynamodb.tenure_information t LEFT JOIN public.active_ids a USING (id);
		COMMENT ON VIEW reports.active IS 'tenures still running';
		COMMENT ON COLUMN reports.active.payment_reference IS 'as the housing system prints it';
		GRANT USAGE ON SCHEMA reports TO `+role+`;
		GRANT SELECT ON reports.active TO `+role+` WITH GRANT OPTION;
		GRANT SELECT (id) ON public.active_ids TO `+role+`;
		ALTER VIEW public.active_ids OWNER TO `+role)
	active := countRows(t, pool, "reports.active")
	require.Positive(t, active)
	requireKept(t, pool, reload, true, "reports.active", "public.active_ids", "public.everything", "dynamodb.tenure_information")
	require.Equal(t, 500, countRows(t, pool, "public.everything"))
	require.NotEqual(t, active, countRows(t, pool, "reports.active"), "the view must read the new rows")
}

func TestReload_KeepsGrants(t *testing.T) {
	t.Parallel()
	pool, _, reload := newReload(t)
	reader, writer := newRole(t, pool), newRole(t, pool)
	mustExec(t, pool, `GRANT USAGE ON SCHEMA dynamodb TO `+reader+`, `+writer+`;
		GRANT SELECT ON dynamodb.tenure_information TO `+reader+`;
		GRANT SELECT, UPDATE ON dynamodb.tenure_information TO `+writer+` WITH GRANT OPTION;
		GRANT SELECT ON dynamodb.tenure_information TO PUBLIC;
		REVOKE TRUNCATE ON dynamodb.tenure_information FROM CURRENT_USER;
		GRANT SELECT (id, doc), UPDATE (doc) ON dynamodb.tenure_information TO `+reader)
	requireKept(t, pool, reload, true, "dynamodb.tenure_information")
	var can bool
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT has_column_privilege($1, 'dynamodb.tenure_information', 'doc', 'UPDATE')`, reader).Scan(&can))
	require.True(t, can)
}

func TestReload_KeepsIndexes(t *testing.T) {
	t.Parallel()
	pool, _, reload := newReload(t)
	mustExec(t, pool, `CREATE INDEX by_payment_ref ON dynamodb.tenure_information ((doc->>'paymentReference'));
		CREATE UNIQUE INDEX by_lower_id ON dynamodb.tenure_information (lower(id)) INCLUDE (origin_time);
		CREATE INDEX running ON dynamodb.tenure_information USING hash ((doc->>'tenureType')) WHERE doc->>'endOfTenureDate' IS NULL;
		CREATE INDEX by_doc ON dynamodb.tenure_information USING gin (doc jsonb_path_ops) WITH (fastupdate = off);
		COMMENT ON INDEX dynamodb.by_payment_ref IS 'for the rent account screen'`)
	requireKept(t, pool, reload, true, "dynamodb.tenure_information")
	var valid int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_index WHERE indrelid = 'dynamodb.tenure_information'::regclass
		AND indisvalid`).Scan(&valid))
	require.Equal(t, 5, valid)
}

func TestReload_KeepsComments(t *testing.T) {
	t.Parallel()
	pool, _, reload := newReload(t)
	mustExec(t, pool, `COMMENT ON TABLE dynamodb.tenure_information IS 'tenures, refreshed nightly — ask #housing-data';
		COMMENT ON COLUMN dynamodb.tenure_information.doc IS 'plain JSON; use ->> for text'`)
	requireKept(t, pool, reload, true, "dynamodb.tenure_information")
}

func TestReload_KeepsRowLevelSecurity(t *testing.T) {
	t.Parallel()
	pool, _, reload := newReload(t)
	analyst := newRole(t, pool)
	mustExec(t, pool, `ALTER TABLE dynamodb.tenure_information ENABLE ROW LEVEL SECURITY;
		ALTER TABLE dynamodb.tenure_information FORCE ROW LEVEL SECURITY;
		CREATE POLICY running_only ON dynamodb.tenure_information FOR SELECT TO `+analyst+`, PUBLIC
			USING (doc->>'endOfTenureDate' IS NULL);
		CREATE POLICY no_stream_edits ON dynamodb.tenure_information AS RESTRICTIVE FOR UPDATE
			USING (origin = 'export') WITH CHECK (origin = 'export' AND doc ? 'id');
		COMMENT ON POLICY running_only ON dynamodb.tenure_information IS 'analysts see current tenures'`)
	requireKept(t, pool, reload, true, "dynamodb.tenure_information")
}

func TestReload_KeepsOwner(t *testing.T) {
	t.Parallel()
	pool, _, reload := newReload(t)
	owner := newRole(t, pool)
	mustExec(t, pool, `ALTER TABLE dynamodb.tenure_information OWNER TO `+owner+`;
		CREATE VIEW public.tenures AS SELECT id FROM dynamodb.tenure_information;
		ALTER VIEW public.tenures OWNER TO `+owner)
	requireKept(t, pool, reload, true, "dynamodb.tenure_information", "public.tenures")
	require.Equal(t, owner, describe(t, pool, "dynamodb.tenure_information")["owner"])
}

// Dependents ddbsync does not re-create make it copy the rows into the
// existing table instead, which keeps them.
func TestReload_CopiesRowsWhenDependentsCannotBeRecreated(t *testing.T) {
	t.Parallel()
	pool, _, reload := newReload(t)
	mustExec(t, pool, `CREATE TABLE public.audit (n int);
		CREATE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO public.audit VALUES (1); RETURN NULL; END$$;
		CREATE TRIGGER audit AFTER INSERT ON dynamodb.tenure_information FOR EACH STATEMENT EXECUTE FUNCTION public.audit();
		CREATE MATERIALIZED VIEW public.snapshot AS SELECT id FROM dynamodb.tenure_information;
		CREATE VIEW public.tenures AS SELECT id FROM dynamodb.tenure_information;
		ALTER TABLE dynamodb.tenure_information ADD COLUMN note text;
		CREATE STATISTICS tenure_stats ON origin, origin_time FROM dynamodb.tenure_information`)
	requireKept(t, pool, reload, false, "dynamodb.tenure_information", "public.snapshot", "public.tenures")
	require.Equal(t, 1, countRows(t, pool, "public.audit"), "the trigger must be kept")
	require.Equal(t, 300, countRows(t, pool, "public.snapshot"))
	var leftover int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'ddbsync' AND tablename ~ '^load_[0-9]+$'`).Scan(&leftover))
	require.Zero(t, leftover, "the load table must be dropped")
}

// A reader of a dependent view sees the old rows or the new, never an
// error or an empty view, while views are re-created.
func TestReload_ViewReadersSeeOldOrNew(t *testing.T) {
	t.Parallel()
	pool, _, reload := newReload(t)
	mustExec(t, pool, `CREATE VIEW public.tenures AS SELECT id, origin_time FROM dynamodb.tenure_information`)
	ctx, cancel := context.WithCancel(t.Context())
	seen := map[int]bool{}
	var readerErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var n int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM public.tenures`).Scan(&n); err != nil {
				if ctx.Err() == nil {
					readerErr = err
				}
				return
			}
			seen[n] = true
		}
	}()
	_, err := reload(load.Config{})
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	require.NoError(t, readerErr)
	for n := range seen {
		require.Contains(t, []int{300, 500}, n)
	}
	require.True(t, seen[500])
}

func TestReload_SameExportIsANoOpUnlessForced(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	l := reconciletest.TenureLayout(t, "")
	exp := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 2, reconciletest.TenureItems(1, 300)).Open()
	first, err := load.Run(t.Context(), pool, exp, load.Config{Layout: l})
	require.NoError(t, err)
	// Following has started: a reload must not lose its position by accident.
	mustExec(t, pool, `INSERT INTO ddbsync.streams (table_name, stream_arn, start_time, watermark)
			VALUES ('TenureInformation', 'arn:stream', now(), now());
		INSERT INTO ddbsync.tombstones (table_name, key, removed_at, shard_id, sequence_number)
			VALUES ('TenureInformation', '{"id":{"S":"gone"}}', now(), 'shard-1', 1)`)

	again, err := load.Run(t.Context(), pool, exp, load.Config{Layout: l})
	require.NoError(t, err)
	require.True(t, again.Unchanged)
	require.False(t, again.LoadedAt.IsZero())
	require.EqualValues(t, 300, again.Items)
	require.Equal(t, first.ExportArn, again.ExportArn)
	require.Equal(t, 1, countRows(t, pool, "ddbsync.streams"), "a no-op reload reset following")
	require.Equal(t, 1, countRows(t, pool, "ddbsync.tombstones"))
	require.Equal(t, 1, countRows(t, pool, "ddbsync.loads"), "a no-op reload started a load")

	forced, err := load.Run(t.Context(), pool, exp, load.Config{Layout: l, Force: true})
	require.NoError(t, err)
	require.False(t, forced.Unchanged)
	require.EqualValues(t, 300, forced.Items)
	require.Zero(t, countRows(t, pool, "ddbsync.streams"), "a forced reload starts following afresh")
	require.Zero(t, countRows(t, pool, "ddbsync.tombstones"))
}

func TestReload_AnotherSchemaIsRefusedUnlessMoved(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	a, b := reconciletest.TenureLayout(t, "a"), reconciletest.TenureLayout(t, "b")
	_, err := load.Run(t.Context(), pool, reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 2, reconciletest.TenureItems(1, 300)).Open(), load.Config{Layout: a, Doc: new(true)})
	require.NoError(t, err)
	mustExec(t, pool, `CREATE VIEW public.tenures AS SELECT id FROM a.tenure_information;
		CREATE INDEX by_ref ON a.tenure_information ((doc->>'paymentReference'))`)
	second := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0.Add(time.Hour), 3, reconciletest.TenureItems(2, 500)).Open()

	_, err = load.Run(t.Context(), pool, second, load.Config{Layout: b})
	require.ErrorIs(t, err, reconcile.ErrSchemaMoved)
	require.ErrorContains(t, err, `"a"."tenure_information"`)
	require.ErrorContains(t, err, `"b"."tenure_information"`)
	var moved *reconcile.SchemaMovedError
	require.ErrorAs(t, err, &moved)
	require.Equal(t, "a", moved.CopySchema)
	require.ErrorContains(t, err, "moving it (with the views, indexes and grants built on it)")
	require.Equal(t, 300, countRows(t, pool, "a.tenure_information"))
	require.False(t, exists(t, pool, "b.tenure_information"))

	_, err = load.Run(t.Context(), pool, second, load.Config{Layout: b, MoveSchema: true})
	require.NoError(t, err)
	require.False(t, exists(t, pool, "a.tenure_information"), "the old copy was left behind")
	require.Equal(t, 500, countRows(t, pool, "b.tenure_information"))
	require.Equal(t, 500, countRows(t, pool, "public.tenures"), "the view must follow the table")
	require.Contains(t, describe(t, pool, "b.tenure_information")["indexes"], "CREATE INDEX by_ref ON b.tenure_information")
	var schema string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT pg_schema FROM ddbsync.tables WHERE table_name = 'TenureInformation'`).Scan(&schema))
	require.Equal(t, "b", schema)

	// And back again: the table in b is ddbsync's, not a stranger's.
	_, err = load.Run(t.Context(), pool, reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0.Add(2*time.Hour), 1, reconciletest.TenureItems(3, 50)).Open(),
		load.Config{Layout: a, MoveSchema: true})
	require.NoError(t, err)
	require.Equal(t, 50, countRows(t, pool, "public.tenures"))
	require.False(t, exists(t, pool, "b.tenure_information"))
}

func TestReload_MoveSchemaStillRefusesForeignTable(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	_, err := load.Run(t.Context(), pool, reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 1, reconciletest.TenureItems(1, 10)).Open(),
		load.Config{Layout: reconciletest.TenureLayout(t, "a")})
	require.NoError(t, err)
	mustExec(t, pool, `CREATE SCHEMA b; CREATE TABLE b.tenure_information (x int)`)
	_, err = load.Run(t.Context(), pool, reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0.Add(time.Hour), 1, reconciletest.TenureItems(2, 10)).Open(),
		load.Config{Layout: reconciletest.TenureLayout(t, "b"), MoveSchema: true})
	require.ErrorIs(t, err, reconcile.ErrTableNotOurs)
	require.Equal(t, 10, countRows(t, pool, "a.tenure_information"))
}

// The table comment is quoted by PostgreSQL: a table name with a quote
// in it is no injection.
func TestLoad_CommentQuotesTheTableName(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	name := "O'Brien's Tenures"
	l, err := reconcile.NewLayout(name, "", reconciletest.TenureKey)
	require.NoError(t, err)
	exp := reconciletest.WriteExport(t, name, reconciletest.T0, 1, reconciletest.TenureItems(1, 5)).Open()
	_, err = load.Run(t.Context(), pool, exp, load.Config{Layout: l})
	require.NoError(t, err)
	var comment string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT obj_description($1::regclass, 'pg_class')`, l.Ident().Sanitize()).Scan(&comment))
	require.Equal(t, "DynamoDB table O'Brien's Tenures, managed by ddbsync: loaded from export "+exp.ID(), comment)
}
