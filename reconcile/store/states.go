package store

// ShardState is a shard checkpoint's state (ddbsync.shards.state).
type ShardState string

// The shard states, in the order of [ShardStates].
const (
	ShardPending  ShardState = "pending"  // listed, not read yet
	ShardReading  ShardState = "reading"  // read up to its checkpoint
	ShardFinished ShardState = "finished" // read to its end
	ShardGap      ShardState = "gap"      // following stopped here: changes were lost
)

// ShardStates are all shard states.
var ShardStates = []ShardState{ShardPending, ShardReading, ShardFinished, ShardGap}

// LoadState is a load's state (ddbsync.loads.state).
type LoadState string

// The load states.
const (
	LoadLoading   LoadState = "loading"   // copying files; resumable
	LoadPublished LoadState = "published" // the table's copy
	LoadAbandoned LoadState = "abandoned" // given up for a load of another export
)

// DiffState is a diff run's state (ddbsync.diff_runs.state).
type DiffState string

// The diff states.
const (
	DiffRunning      DiffState = "running"
	DiffConsistent   DiffState = "consistent"
	DiffInconsistent DiffState = "inconsistent"
	DiffFailed       DiffState = "failed"
)
