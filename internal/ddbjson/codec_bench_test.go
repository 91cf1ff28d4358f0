package ddbjson_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/tenure"
)

// tenureLine is one export line holding a tenure-shaped item.
func tenureLine(b *testing.B) (ddbjson.Item, []byte) {
	b.Helper()
	item := tenure.NewGenerator(1).Item()
	enc, err := ddbjson.EncodeItem(item)
	require.NoError(b, err)
	line := append(append([]byte(`{"Item":`), enc...), '}')
	return item, line
}

func BenchmarkDecodeExportLine(b *testing.B) {
	_, line := tenureLine(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := ddbjson.DecodeExportLine(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendItem(b *testing.B) {
	item, line := tenureLine(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(line) - len(`{"Item":}`)))
	var buf []byte
	for b.Loop() {
		var err error
		if buf, err = ddbjson.AppendItem(buf[:0], item); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPlain(b *testing.B) {
	item, _ := tenureLine(b)
	plain, err := ddbjson.AppendPlain(nil, item)
	require.NoError(b, err)
	b.ReportAllocs()
	b.SetBytes(int64(len(plain)))
	var buf []byte
	for b.Loop() {
		if buf, err = ddbjson.AppendPlain(buf[:0], item); err != nil {
			b.Fatal(err)
		}
	}
}
