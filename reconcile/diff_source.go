package reconcile

import (
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// imageRows are the source images a query returns, one lossless DynamoDB
// JSON item per row, decoded one at a time.
type imageRows struct {
	rows pgx.Rows
	item ddbjson.Item
	err  error
}

func (s *imageRows) Next() bool {
	if !s.rows.Next() {
		return false
	}
	var raw []byte
	if s.err = s.rows.Scan(&raw); s.err != nil {
		return false
	}
	if s.item, s.err = ddbjson.DecodeItem(raw); s.err != nil {
		s.err = fmt.Errorf("decoding a source image: %w", s.err)
		return false
	}
	return true
}

func (s *imageRows) Item() ddbjson.Item { return s.item }

func (s *imageRows) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}
