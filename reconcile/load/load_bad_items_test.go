package load_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/snapshot"
)

func TestLoad_BadItemIsCorruptExport(t *testing.T) {
	// Every bad line of an export is the same refusal (snapshot.ErrCorrupt,
	// exit 1), whichever layer notices it; its specific cause stays
	// matchable, and the message names the file, line and attribute.
	cases := []struct {
		name  string
		line  string
		cause error // nil: no sentinel beyond ErrCorrupt
		says  string
	}{
		{"key attribute missing", `{"Item":{"other":{"S":"x2"}}}`, ddbjson.ErrMissingKey, `"id"`},
		{"key of the wrong type", `{"Item":{"id":{"N":"2"}}}`, ddbjson.ErrMissingKey, `"id" has type N, want S`},
		{"key of a non-key type", `{"Item":{"id":{"BOOL":true}}}`, ddbjson.ErrMissingKey, `"id" has type BOOL`},
		{"empty key", `{"Item":{"id":{"S":""}}}`, ddbjson.ErrMissingKey, `"id" is empty`},
		{"key value containing U+0000", `{"Item":{"id":{"S":"x\u00002"}}}`, nil, "key attribute id: contains U+0000"},
		{"attribute name containing U+0000", `{"Item":{"id":{"S":"x2"},"a\u0000b":{"S":"v"}}}`, ddbjson.ErrNulInName, "U+0000"},
	}
	pool := pgtest.New(t)
	l := reconciletest.TenureLayout(t, "")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0.Add(time.Hour), 1, nil)
			e.ReplaceDataFile(0, reconciletest.Gz(t, `{"Item":{"id":{"S":"x1"}}}`, tc.line), true, 2)
			name := e.DataFile(0)
			_, err := load.Run(t.Context(), pool, e.Open(), load.Config{Layout: l})
			require.Error(t, err)
			require.ErrorIs(t, err, snapshot.ErrCorrupt)
			if tc.cause != nil {
				require.ErrorIs(t, err, tc.cause)
			}
			fe, ok := errors.AsType[*snapshot.FileError](err)
			require.True(t, ok, "not a *snapshot.FileError: %v", err)
			require.Equal(t, name, fe.File)
			require.Equal(t, 2, fe.Line)
			require.Contains(t, err.Error(), name+" line 2: ")
			require.Contains(t, err.Error(), tc.says)
		})
	}
}
