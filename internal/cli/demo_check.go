package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ddbsync/ddbsync/internal/copycheck"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
)

// check compares the copy with the table, item by item.
func (d *demo) check(ctx context.Context, l reconcile.Layout) error {
	res, err := copycheck.Check(ctx, d.ddb, tenure.TableName, d.pool, l.Ident(), tenure.Key)
	if err != nil {
		return err
	}
	if !res.Exact() {
		return fmt.Errorf("the copy differs from the table: %s", res)
	}
	d.say("checked the copy against a Scan of the table: all %d items identical, every attribute and type", res.Same)
	return nil
}

func (d *demo) showQueries(ctx context.Context) {
	queries := []struct{ title, sql string }{
		{"Active tenures by tenure type", `SELECT item #>> '{tenureType,M,description,S}' AS tenure_type, count(*) AS active
FROM dynamodb.tenure_information
WHERE item #>> '{endOfTenureDate,S}' IS NULL OR item #>> '{endOfTenureDate,S}' = '1900-01-01'
   OR left(item #>> '{endOfTenureDate,S}', 10)::date >= current_date
GROUP BY 1 ORDER BY 2 DESC LIMIT 5`},
		{"Household sizes", `SELECT jsonb_array_length(item #> '{householdMembers,L}') AS members, count(*) AS tenures
FROM dynamodb.tenure_information GROUP BY 1 ORDER BY 1`},
	}
	fmt.Fprintln(d.out, "\nSQL to try:")
	for _, q := range queries {
		fmt.Fprintf(d.out, "\n-- %s\n%s;\n", q.title, q.sql)
		rows, err := d.pool.Query(ctx, q.sql)
		if err != nil {
			fmt.Fprintf(d.out, "   (failed: %v)\n", err)
			continue
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				break
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = fmt.Sprint(v)
			}
			fmt.Fprintf(d.out, "   %s\n", strings.Join(parts, " | "))
		}
		if err := rows.Err(); err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(d.out, "   (failed: %v)\n", err)
		}
		rows.Close()
	}
	fmt.Fprintln(d.out)
}
