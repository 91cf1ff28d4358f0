package follow

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/reconcile/store"
)

func TestFairShare(t *testing.T) {
	for _, tc := range []struct {
		name  string
		c     store.Census
		take  int
		steal string
	}{
		{"alone takes every ready shard", store.Census{Live: 1, Ready: 8, Held: map[string]int{}}, 8, ""},
		{"a third of 8, rounded up", store.Census{Live: 3, Ready: 8, Held: map[string]int{}}, 3, ""},
		{"no more than are free", store.Census{Live: 2, Ready: 4, Held: map[string]int{"b": 3}}, 1, ""},
		{"tops up to the share", store.Census{Live: 2, Ready: 8, Held: map[string]int{"me": 1, "b": 4}}, 3, ""},
		{"a newcomer takes from the richest", store.Census{Live: 3, Ready: 8, Held: map[string]int{"b": 3, "c": 5}}, 0, "c"},
		{"within one of every peer is fair", store.Census{Live: 3, Ready: 8, Held: map[string]int{"me": 2, "c": 3, "b": 3}}, 0, ""},
		{"ties go to the first name", store.Census{Live: 3, Ready: 8, Held: map[string]int{"me": 0, "c": 4, "b": 4}}, 0, "b"},
		{"two more than me is worth one", store.Census{Live: 2, Ready: 6, Held: map[string]int{"me": 2, "b": 4}}, 0, "b"},
		{"within one is fair", store.Census{Live: 2, Ready: 5, Held: map[string]int{"me": 2, "b": 3}}, 0, ""},
		{"no live row counts as one", store.Census{Live: 0, Ready: 2, Held: map[string]int{}}, 2, ""},
		{"nothing ready", store.Census{Live: 2, Ready: 0, Held: map[string]int{}}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			take, steal := fairShare(tc.c, "me")
			require.Equal(t, tc.take, take)
			require.Equal(t, tc.steal, steal)
		})
	}
}
