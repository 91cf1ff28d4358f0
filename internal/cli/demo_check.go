package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
)

// check compares the copy with the table, item by item.
func (d *demo) check(ctx context.Context, l reconcile.Layout) error {
	want := map[string]string{}
	p := dynamodb.NewScanPaginator(d.ddb, &dynamodb.ScanInput{TableName: aws.String(tenure.TableName)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			b, err := ddbjson.EncodeItem(it)
			if err != nil {
				return err
			}
			want[it["id"].(*types.AttributeValueMemberS).Value] = string(b)
		}
	}
	rows, err := d.pool.Query(ctx, "SELECT id, item::text FROM "+l.Ident().Sanitize())
	if err != nil {
		return err
	}
	defer rows.Close()
	var same, differ, extra int
	for rows.Next() {
		var id, raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return err
		}
		item, err := ddbjson.DecodeItem([]byte(raw))
		if err != nil {
			return err
		}
		b, err := ddbjson.EncodeItem(item)
		if err != nil {
			return err
		}
		w, ok := want[id]
		switch {
		case !ok:
			extra++
		case w == string(b):
			same++
		default:
			differ++
		}
		delete(want, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if differ+extra+len(want) > 0 {
		return fmt.Errorf("the copy differs from the table: %d different, %d extra, %d missing", differ, extra, len(want))
	}
	d.say("checked the copy against a Scan of the table: all %d items identical, every attribute and type", same)
	return nil
}

func (d *demo) showQueries(ctx context.Context) {
	queries := []struct{ title, sql string }{
		{"Active tenures by tenure type", `SELECT doc->'tenureType'->>'description' AS tenure_type, count(*) AS active
FROM dynamodb.tenure_information
WHERE doc->>'endOfTenureDate' IS NULL OR doc->>'endOfTenureDate' = '1900-01-01'
   OR left(doc->>'endOfTenureDate', 10)::date >= current_date
GROUP BY 1 ORDER BY 2 DESC LIMIT 5`},
		{"Household sizes", `SELECT jsonb_array_length(doc->'householdMembers') AS members, count(*) AS tenures
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
