package stream

// ComputeWatermark exposes the tracker's min-rule to the tests of package
// stream_test.
var ComputeWatermark = computeWatermark

// CloneTracker returns an independent copy of t, so a test can try a step
// on the copy without changing t.
func CloneTracker(t *Tracker) *Tracker {
	c := *t
	c.shards = make(map[string]*trackedShard, len(t.shards))
	for id, s := range t.shards {
		cs := *s
		c.shards[id] = &cs
	}
	c.listed = make(map[string]Shard, len(t.listed))
	for id, s := range t.listed {
		c.listed[id] = s
	}
	c.parents = make(map[string]bool, len(t.parents))
	for id := range t.parents {
		c.parents[id] = true
	}
	return &c
}
