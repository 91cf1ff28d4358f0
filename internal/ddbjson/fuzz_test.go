package ddbjson_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

func addItemSeeds(f *testing.F, wrap func(string) string) {
	for _, tc := range roundTripCases {
		f.Add([]byte(wrap(tc.in)))
		f.Add([]byte(wrap(tc.enc)))
	}
	for _, tc := range rejectCases {
		f.Add([]byte(wrap(tc.in)))
	}
	f.Add([]byte(wrap(nested(40))))
}

// checkStable asserts the properties every decoded item must have: its
// lossless encoding decodes to an item with the same encoding and the same
// value, and its plain form is valid JSON.
func checkStable(t *testing.T, item ddbjson.Item) {
	enc, err := ddbjson.EncodeItem(item)
	require.NoError(t, err, "a decoded item must encode")
	require.False(t, hasNulEscape(enc), "jsonb cannot hold U+0000: %s", enc)
	again, err := ddbjson.DecodeItem(enc)
	require.NoError(t, err, "the encoding must decode: %s", enc)
	enc2, err := ddbjson.EncodeItem(again)
	require.NoError(t, err)
	require.Equal(t, string(enc), string(enc2), "EncodeItem → DecodeItem → EncodeItem is not stable")
	// Sets may come back reordered; everything else is as decoded.
	require.Equal(t, canonical(t, item), canonical(t, again))
	require.Equal(t, len(item), len(again))

	plain, err := ddbjson.AppendPlain(nil, item)
	require.NoError(t, err, "a decoded item must have a plain form")
	requirePlainJSON(t, plain)
}

func FuzzDecodeExportLine(f *testing.F) {
	addItemSeeds(f, func(s string) string { return `{"Item":` + s + `}` })
	f.Add([]byte(`{"Item":{}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"Item":{},"Item":{}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		item, err := ddbjson.DecodeExportLine(line)
		if err != nil {
			var se *ddbjson.SyntaxError
			require.ErrorAs(t, err, &se)
			require.GreaterOrEqual(t, se.Offset, 0)
			require.LessOrEqual(t, se.Offset, len(line))
			require.Nil(t, item)
			return
		}
		require.NotNil(t, item)
		checkStable(t, item)
	})
}

func FuzzItemRoundTrip(f *testing.F) {
	addItemSeeds(f, func(s string) string { return s })
	f.Fuzz(func(t *testing.T, data []byte) {
		item, err := ddbjson.DecodeItem(data)
		if err != nil {
			return
		}
		checkStable(t, item)
		// An item is also its own export line.
		line, err := ddbjson.DecodeExportLine(append(append([]byte(`{"Item":`), data...), '}'))
		require.NoError(t, err)
		require.Equal(t, item, line)
		// AppendItem appends and does not disturb dst.
		prefix := []byte("\x00prefix")
		out, err := ddbjson.AppendItem(bytes.Clone(prefix), item)
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(out, prefix))
	})
}

func FuzzNumberRoundTrip(f *testing.F) {
	for _, tc := range numberCases {
		f.Add(tc.in)
	}
	for _, tc := range badNumberCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		norm, err := ddbjson.NormalizeNumber(s)
		if err != nil {
			require.ErrorIs(t, err, ddbjson.ErrInvalidNumber)
			require.Error(t, ddbjson.CheckNumber(s))
			return
		}
		require.NoError(t, ddbjson.CheckNumber(s))
		again, err := ddbjson.NormalizeNumber(norm)
		require.NoError(t, err, "normalized %q to %q, which is refused", s, norm)
		require.Equal(t, norm, again, "not idempotent")
		checkSameValue(t, s, norm)
		digits := strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(norm), "0")
		require.LessOrEqual(t, len(strings.TrimRight(digits, "0")), 38)
		// The plain form writes it as a JSON number with every digit.
		plain, err := ddbjson.AppendPlain(nil, ddbjson.Item{"n": nAV(s)})
		require.NoError(t, err)
		require.Equal(t, `{"n":`+norm+`}`, string(plain))
		requirePlainJSON(t, plain)
	})
}
