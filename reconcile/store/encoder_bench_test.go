package store

import (
	"testing"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/tenure"
)

// BenchmarkEncode measures the client's work per tenure item, step by
// step: decoding an export line, encoding a row of each column set from
// the decoded item, the digest alone, and the fast path from the line
// (line-rows, line-digests: what a load and a diff do per tenure item).
//
//	go test ./reconcile/store -run '^$' -bench BenchmarkEncode
func BenchmarkEncode(b *testing.B) {
	gen := tenure.NewGenerator(1)
	var lines [][]byte
	var items []ddbjson.Item
	for range 1000 {
		it := gen.Item()
		raw, err := ddbjson.EncodeItem(it)
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, append(append([]byte(`{"Item":`), raw...), '}'))
		items = append(items, it)
	}
	key, err := ParseKeySchema(tenure.Key.String())
	if err != nil {
		b.Fatal(err)
	}
	l, err := NewLayout(tenure.TableName, "", key)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode-line", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := ddbjson.DecodeExportLine(lines[i%len(lines)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append-item", func(b *testing.B) {
		var buf []byte
		for i := 0; b.Loop(); i++ {
			if buf, err = ddbjson.AppendItem(buf[:0], items[i%len(items)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("digest-sum", func(b *testing.B) {
		var s DigestScratch
		raw, _ := ddbjson.EncodeItem(items[0])
		for b.Loop() {
			if _, err := s.Sum(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct {
		name string
		set  ColumnSet
	}{{"rows", RowColumns}, {"digests", DigestColumns}} {
		b.Run("line-"+c.name, func(b *testing.B) {
			enc := NewEncoder(l, c.set)
			for i := 0; b.Loop(); i++ {
				if _, ok, err := enc.EncodeLine(lines[i%len(lines)], Provenance{Origin: OriginExport}); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
	for _, c := range []struct {
		name string
		set  ColumnSet
		doc  bool
	}{{"rows", RowColumns, false}, {"rows-doc", RowColumns, true}, {"digests", DigestColumns, false}} {
		b.Run("encode-"+c.name, func(b *testing.B) {
			l := l
			l.Doc = c.doc
			enc := NewEncoder(l, c.set)
			for i := 0; b.Loop(); i++ {
				if _, err := enc.Encode(items[i%len(items)], Provenance{Origin: OriginExport}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
