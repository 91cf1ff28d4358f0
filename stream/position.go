package stream

import "fmt"

// PositionKind is where in a shard reading starts.
type PositionKind int

// The position kinds. The zero value is invalid.
const (
	// PositionTrimHorizon: the oldest record the shard still holds.
	PositionTrimHorizon PositionKind = iota + 1
	// PositionAfterSequenceNumber: just after a record already applied.
	PositionAfterSequenceNumber
)

// Position is where to read a shard from; build one with [TrimHorizon] or
// [AfterSequenceNumber].
type Position struct {
	Kind PositionKind
	// SequenceNumber is the record to read after; set for
	// PositionAfterSequenceNumber only.
	SequenceNumber string
}

// TrimHorizon is the position of a shard's oldest record, for a shard never
// read before.
func TrimHorizon() Position { return Position{Kind: PositionTrimHorizon} }

// AfterSequenceNumber is the position after record seq, for resuming from a
// checkpoint.
func AfterSequenceNumber(seq string) Position {
	return Position{Kind: PositionAfterSequenceNumber, SequenceNumber: seq}
}

// String formats the position as the GetShardIterator type it becomes.
func (p Position) String() string {
	switch p.Kind {
	case PositionTrimHorizon:
		return "TRIM_HORIZON"
	case PositionAfterSequenceNumber:
		return "AFTER_SEQUENCE_NUMBER " + p.SequenceNumber
	}
	return fmt.Sprintf("Position(%d)", int(p.Kind))
}

// Validate reports whether the position is usable.
func (p Position) Validate() error {
	switch p.Kind {
	case PositionTrimHorizon:
		if p.SequenceNumber != "" {
			return fmt.Errorf("position TRIM_HORIZON with sequence number %q: want none", p.SequenceNumber)
		}
		return nil
	case PositionAfterSequenceNumber:
		if err := CheckSequenceNumber(p.SequenceNumber); err != nil {
			return fmt.Errorf("position after sequence number: %w", err)
		}
		return nil
	}
	return fmt.Errorf("position kind %d: want TrimHorizon or AfterSequenceNumber", int(p.Kind))
}
