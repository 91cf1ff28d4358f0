package stream

import (
	"fmt"
	"strings"
)

// maxSequenceDigits is the longest sequence number DynamoDB Streams issues
// (the API model allows 21 to 40 characters); shorter ones are accepted
// because emulators issue them.
const maxSequenceDigits = 40

// CheckSequenceNumber reports whether s is a sequence number: 1 to 40 decimal
// digits. It returns an error wrapping [ErrBadSequenceNumber] otherwise.
func CheckSequenceNumber(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrBadSequenceNumber)
	}
	if len(s) > maxSequenceDigits {
		return fmt.Errorf("%w: %q has %d digits, more than %d", ErrBadSequenceNumber, s, len(s), maxSequenceDigits)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("%w: %q is not decimal digits", ErrBadSequenceNumber, s)
		}
	}
	return nil
}

// CompareSequenceNumbers compares two sequence numbers of one shard as the
// integers they are, returning -1, 0 or +1. Sequence numbers are decimal text
// of varying length ("9" < "10"), so comparing the strings is wrong; they are
// also not contiguous, so never add 1 to one to find the next.
//
// It compares without allocating: after dropping leading zeros, the shorter
// digit string is the smaller number, and strings of equal length compare
// like their numbers. This equals math/big comparison for valid input (the
// fuzz test checks it). Input that fails [CheckSequenceNumber] gets a
// consistent but meaningless order; validate sequence numbers where they
// enter the program, as [ShardReader] does.
func CompareSequenceNumbers(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return strings.Compare(a, b)
}
