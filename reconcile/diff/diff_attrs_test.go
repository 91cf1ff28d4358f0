package diff_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/reconcile/diff"
)

func TestAttrDiffs_NamesEveryDifferingPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		source, copy string
		want         []diff.AttrDiff
	}{
		{"equal, whatever the key order and spacing",
			`{"a":{"S":"x"},"n":{"N":"1.5"}}`, `{"n": {"N": "1.5"}, "a": {"S": "x"}}`, nil},
		{"scalar changed",
			`{"a":{"S":"x"}}`, `{"a":{"S":"y"}}`,
			[]diff.AttrDiff{{Path: "a", Source: raw(`{"S":"x"}`), Copy: raw(`{"S":"y"}`)}}},
		{"number changed in its 38th digit",
			`{"n":{"N":"12345678901234567890123456789012345678"}}`, `{"n":{"N":"12345678901234567890123456789012345679"}}`,
			[]diff.AttrDiff{{Path: "n", Source: raw(`{"N":"12345678901234567890123456789012345678"}`), Copy: raw(`{"N":"12345678901234567890123456789012345679"}`)}}},
		{"nested map member",
			`{"charges":{"M":{"rent":{"N":"10"},"service":{"N":"2"}}}}`, `{"charges":{"M":{"rent":{"N":"11"},"service":{"N":"2"}}}}`,
			[]diff.AttrDiff{{Path: "charges.rent", Source: raw(`{"N":"10"}`), Copy: raw(`{"N":"11"}`)}}},
		{"list element member",
			`{"m":{"L":[{"M":{"n":{"S":"a"}}},{"M":{"n":{"S":"b"}}}]}}`, `{"m":{"L":[{"M":{"n":{"S":"a"}}},{"M":{"n":{"S":"c"}}}]}}`,
			[]diff.AttrDiff{{Path: "m[1].n", Source: raw(`{"S":"b"}`), Copy: raw(`{"S":"c"}`)}}},
		{"list grew",
			`{"l":{"L":[{"S":"a"},{"S":"b"}]}}`, `{"l":{"L":[{"S":"a"}]}}`,
			[]diff.AttrDiff{{Path: "l[1]", Source: raw(`{"S":"b"}`), Copy: raw(`null`)}}},
		{"attribute only in the copy",
			`{"a":{"S":"x"}}`, `{"a":{"S":"x"},"b":{"BOOL":true}}`,
			[]diff.AttrDiff{{Path: "b", Source: raw(`null`), Copy: raw(`{"BOOL":true}`)}}},
		{"type changed",
			`{"a":{"N":"1"}}`, `{"a":{"S":"1"}}`,
			[]diff.AttrDiff{{Path: "a", Source: raw(`{"N":"1"}`), Copy: raw(`{"S":"1"}`)}}},
		{"set member changed is the set's path",
			`{"s":{"SS":["a","b"]}}`, `{"s":{"SS":["a","c"]}}`,
			[]diff.AttrDiff{{Path: "s", Source: raw(`{"SS":["a","b"]}`), Copy: raw(`{"SS":["a","c"]}`)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := diff.AttrDiffs([]byte(tc.source), []byte(tc.copy))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestAttrDiffs_RejectsNonItems(t *testing.T) {
	t.Parallel()
	_, err := diff.AttrDiffs([]byte(`[1]`), []byte(`{}`))
	require.Error(t, err)
	_, err = diff.AttrDiffs([]byte(`{"a":{"S":"x"}}`), []byte(`{"a":{"S":"x","N":"1"}}`))
	require.Error(t, err)
}

func raw(s string) []byte { return []byte(s) }
