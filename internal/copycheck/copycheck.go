// Package copycheck compares a PostgreSQL copy with a full Scan of its
// DynamoDB table, item by item, as canonical DynamoDB JSON: every
// attribute and every type. The demo runs it to show a copy is exact, and
// the tests run it after following. Both sides are held in memory, so it
// is for small tables; `ddbsync diff` is the tool for real ones.
package copycheck

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/jackc/pgx/v5"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// ScanAPI is the DynamoDB call Scan makes; *dynamodb.Client has it.
type ScanAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Querier runs the copy's query; a pool, a connection and a transaction
// have it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Items are a table's items by key: canonical key JSON → canonical item JSON.
type Items map[string]string

// Scan reads every item of table with a consistent Scan.
func Scan(ctx context.Context, api ScanAPI, table string, key ddbjson.KeySchema) (Items, error) {
	out := Items{}
	var start ddbjson.Item
	for {
		page, err := api.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ExclusiveStartKey: start,
			ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("scanning %s: %w", table, err)
		}
		for _, it := range page.Items {
			if err := out.add(key, it); err != nil {
				return nil, fmt.Errorf("scanning %s: %w", table, err)
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = page.LastEvaluatedKey
	}
}

// Copy reads every row of the data table pgTable from its lossless item column.
func Copy(ctx context.Context, q Querier, pgTable pgx.Identifier, key ddbjson.KeySchema) (Items, error) {
	return readItems(ctx, q, pgTable.Sanitize(), key, "SELECT item::text FROM "+pgTable.Sanitize())
}

// AsOf reads the items a table's as-of function (dynamodb.<table>_as_of)
// returns for instant ts, keyed as [Copy] keys them.
func AsOf(ctx context.Context, q Querier, fn pgx.Identifier, ts time.Time, key ddbjson.KeySchema) (Items, error) {
	return readItems(ctx, q, fn.Sanitize(), key, "SELECT item::text FROM "+fn.Sanitize()+"($1)", ts)
}

func readItems(ctx context.Context, q Querier, name string, key ddbjson.KeySchema, sql string, args ...any) (Items, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer rows.Close()
	out := Items{}
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		it, err := ddbjson.DecodeItem([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if err := out.add(key, it); err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
	}
	return out, rows.Err()
}

func (m Items) add(key ddbjson.KeySchema, it ddbjson.Item) error {
	k, err := key.KeyOf(it)
	if err != nil {
		return err
	}
	kb, err := ddbjson.EncodeItem(k)
	if err != nil {
		return err
	}
	b, err := ddbjson.EncodeItem(it)
	if err != nil {
		return err
	}
	m[string(kb)] = string(b)
	return nil
}

// Result is how a copy differs from its table, key by key.
type Result struct {
	Same      int
	Different []string // keys whose items differ
	Extra     []string // keys only the copy has
	Missing   []string // keys only the table has
}

// Exact says whether the copy holds exactly the table's items.
func (r Result) Exact() bool { return len(r.Different)+len(r.Extra)+len(r.Missing) == 0 }

func (r Result) String() string {
	if r.Exact() {
		return fmt.Sprintf("all %d items identical", r.Same)
	}
	return fmt.Sprintf("%d different%s, %d extra%s, %d missing%s, %d identical",
		len(r.Different), some(r.Different), len(r.Extra), some(r.Extra), len(r.Missing), some(r.Missing), r.Same)
}

// some names up to 3 keys.
func some(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	shown := keys[:min(3, len(keys))]
	more := ""
	if len(keys) > len(shown) {
		more = ", …"
	}
	return " (" + strings.Join(shown, ", ") + more + ")"
}

// Compare tells how copy differs from table; keys are listed in order.
func Compare(table, copy Items) Result {
	var r Result
	for k, w := range table {
		switch g, ok := copy[k]; {
		case !ok:
			r.Missing = append(r.Missing, k)
		case g != w:
			r.Different = append(r.Different, k)
		default:
			r.Same++
		}
	}
	for k := range copy {
		if _, ok := table[k]; !ok {
			r.Extra = append(r.Extra, k)
		}
	}
	slices.Sort(r.Different)
	slices.Sort(r.Extra)
	slices.Sort(r.Missing)
	return r
}

// Check scans table and reads its copy pgTable, and compares them.
func Check(ctx context.Context, api ScanAPI, table string, q Querier, pgTable pgx.Identifier, key ddbjson.KeySchema) (Result, error) {
	want, err := Scan(ctx, api, table, key)
	if err != nil {
		return Result{}, err
	}
	got, err := Copy(ctx, q, pgTable, key)
	if err != nil {
		return Result{}, err
	}
	return Compare(want, got), nil
}
