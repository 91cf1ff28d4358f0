package ddbjson_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/tenure"
)

func TestDecodeExportLine_ConcurrentUse(t *testing.T) {
	// The decoder keeps pooled state between calls; items decoded in
	// parallel must stay intact after later calls.
	g := tenure.NewGenerator(3)
	var lines [][]byte
	var want []string
	for range 200 {
		enc, err := ddbjson.EncodeItem(g.Item())
		require.NoError(t, err)
		lines = append(lines, append(append([]byte(`{"Item":`), enc...), '}'))
		want = append(want, string(enc))
	}
	got := make([][]ddbjson.Item, 4)
	var wg sync.WaitGroup
	for w := range got {
		wg.Go(func() {
			for _, l := range lines {
				item, err := ddbjson.DecodeExportLine(l)
				if err != nil {
					panic(err)
				}
				got[w] = append(got[w], item)
			}
		})
	}
	wg.Wait()
	for w := range got {
		for i, item := range got[w] {
			require.Equal(t, want[i], canonical(t, item))
		}
	}
}
