package cli

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// A demo of 40,200 tenures or more used to panic after the load: each
// round of deletes shrank the ids by 1+2+…+del instead of del.
func TestPlanChanges_DeletesDistinctNewestIDsAtAnySize(t *testing.T) {
	for _, items := range []int{1, 19, 800, 40200, 100000, 1000000} {
		t.Run(fmt.Sprint(items), func(t *testing.T) {
			ids := make([]string, items)
			for i := range ids {
				ids[i] = fmt.Sprint("t", i)
			}
			next := items
			for round := range 2 { // the demo changes the table twice
				update, gone := planChanges(ids, items)
				require.Len(t, update, max(1, items/20), "round %d", round)
				require.Len(t, gone, max(1, items/200), "round %d", round)
				newest := slices.Clone(ids[len(ids)-len(gone):])
				require.Equal(t, newest, gone, "round %d: the newest ids", round)

				// What changeSome does with the plan: drop the deleted ids
				// and append as many new ones.
				ids = ids[:len(ids)-len(gone)]
				for range gone {
					ids = append(ids, fmt.Sprint("t", next))
					next++
				}
				require.Len(t, ids, items, "round %d: the table keeps its size", round)
				require.Equal(t, newest, gone, "round %d: the appends did not overwrite the ids to delete", round)
			}
		})
	}
}
