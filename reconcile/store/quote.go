package store

import "context"

// QuoteLiterals has PostgreSQL quote vals as SQL string literals
// (quote_literal), for the statements that take no parameters, such as
// CREATE TABLE AS: values never reach SQL through Go string building.
func QuoteLiterals(ctx context.Context, q Querier, vals ...string) ([]string, error) {
	var out []string
	err := q.QueryRow(ctx, `SELECT coalesce(array_agg(quote_literal(v) ORDER BY i), '{}')
		FROM unnest($1::text[]) WITH ORDINALITY AS u(v, i)`, vals).Scan(&out)
	return out, err
}
