package emulator

import (
	_ "embed"
	"strings"
)

// reservedWordsText is DynamoDB's list of reserved words, one a line, as
// published in the developer guide (ReservedWords.html); this copy comes
// from moto's moto/dynamodb/parsing/reserved_keywords.txt.
//
//go:embed reserved_words.txt
var reservedWordsText string

// newReservedWords builds the set of words that may not appear bare in an
// expression (each Server keeps its own, read-only).
func newReservedWords() map[string]bool {
	set := make(map[string]bool)
	for _, w := range strings.Fields(reservedWordsText) {
		set[strings.ToUpper(w)] = true
	}
	return set
}
