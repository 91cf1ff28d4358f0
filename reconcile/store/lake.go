package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// What `publish` reads: a relation (the data table, a typed view, or an
// as-of function of either) in one snapshot.

// Relation is what a cut reads rows from: a table or view, or a set-
// returning function called with one timestamptz (an as-of function).
type Relation struct {
	Schema, Name string
	// AsOf, when set, makes the relation the function Schema.Name(AsOf).
	AsOf *time.Time
}

func (r Relation) ident() string { return pgx.Identifier{r.Schema, r.Name}.Sanitize() }

// String names the relation as SQL would, e.g. dynamodb.t_as_of(ts).
func (r Relation) String() string {
	if r.AsOf != nil {
		return fmt.Sprintf("%s.%s(%s)", r.Schema, r.Name, r.AsOf.UTC().Format(time.RFC3339Nano))
	}
	return r.Schema + "." + r.Name
}

// from is the FROM clause item, with the as-of instant as parameter $1.
func (r Relation) from() (string, []any) {
	if r.AsOf != nil {
		return r.ident() + "($1::timestamptz)", []any{*r.AsOf}
	}
	return r.ident(), nil
}

// RelationExists tells whether schema.name is a table, view or
// materialized view a query can read.
func RelationExists(ctx context.Context, q Querier, schema, name string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p', 'f'))`, schema, name).Scan(&ok)
	return ok, err
}

// AsOfFunctionExists tells whether schema.name(timestamptz) exists: the
// history's as-of function of a table or of a typed view.
func AsOfFunctionExists(ctx context.Context, q Querier, schema, name string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT to_regprocedure($1) IS NOT NULL`,
		pgx.Identifier{schema, name}.Sanitize()+"(timestamptz)").Scan(&ok)
	return ok, err
}

// CutColumn is one column of a relation, as its result describes it.
type CutColumn struct {
	Name    string
	TypeOID uint32
	// TypeMod is the type's modifier (numeric's precision and scale), -1
	// when it has none.
	TypeMod int32
	// TypeName is PostgreSQL's name of the type, e.g. numeric(12,2).
	TypeName string
	// ElemOID is an array type's element type, 0 for other types.
	ElemOID uint32
}

// DescribeRelation returns r's columns, in order, with their types.
func DescribeRelation(ctx context.Context, q Querier, r Relation) ([]CutColumn, error) {
	from, args := r.from()
	rows, err := q.Query(ctx, "SELECT * FROM "+from+" LIMIT 0", args...)
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w", r, err)
	}
	fds := rows.FieldDescriptions()
	cols := make([]CutColumn, len(fds))
	for i, fd := range fds {
		cols[i] = CutColumn{Name: fd.Name, TypeOID: fd.DataTypeOID, TypeMod: fd.TypeModifier}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("describing %s: %w", r, err)
	}
	for i := range cols {
		if err := q.QueryRow(ctx, `SELECT format_type(oid, nullif($2::int, -1)), CASE WHEN typcategory = 'A' THEN typelem ELSE 0 END
			FROM pg_type WHERE oid = $1::oid`,
			cols[i].TypeOID, cols[i].TypeMod).Scan(&cols[i].TypeName, &cols[i].ElemOID); err != nil {
			return nil, fmt.Errorf("naming the type of column %s of %s: %w", cols[i].Name, r, err)
		}
	}
	return cols, nil
}

// CutQuery is the statement that reads a relation's rows for a cut.
type CutQuery struct {
	Relation Relation
	// Columns are the relation's columns in order; those marked in AsText
	// are read as PostgreSQL prints them (their ::text), the others in
	// their own type. AsArrayText reads an array column as text[].
	Columns     []CutColumn
	AsText      []bool
	AsArrayText []bool
	// OrderBy names columns to sort by (the key), so that the same cut
	// gives the same files; empty leaves the order to the plan.
	OrderBy []string
}

// SQL returns the statement and its arguments.
func (c CutQuery) SQL() (string, []any) {
	sel := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		id := pgx.Identifier{col.Name}.Sanitize()
		switch {
		case i < len(c.AsText) && c.AsText[i]:
			sel[i] = id + "::text"
		case i < len(c.AsArrayText) && c.AsArrayText[i]:
			sel[i] = id + "::text[]"
		default:
			sel[i] = id
		}
	}
	from, args := c.Relation.from()
	sql := "SELECT " + strings.Join(sel, ", ") + " FROM " + from
	if len(c.OrderBy) > 0 {
		order := make([]string, len(c.OrderBy))
		for i, o := range c.OrderBy {
			order[i] = pgx.Identifier{o}.Sanitize()
		}
		sql += " ORDER BY " + strings.Join(order, ", ")
	}
	return sql, args
}

// BeginSnapshot starts the read-only REPEATABLE READ transaction a cut is
// read in: every statement of it, the instant's bookkeeping as well as the
// rows, sees one snapshot of the database.
func BeginSnapshot(ctx context.Context, conn interface {
	BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
}) (pgx.Tx, error) {
	return conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
}
