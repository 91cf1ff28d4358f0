package stream

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A page released twice, or a copy of it released after its body went on
// to another page, gives nothing back: only the page that holds a body
// can end its use, once. (end, not release: a body given back twice would
// sit in the shared pool twice.)
func TestBodyRef_EndsOnlyItsOwnUse(t *testing.T) {
	b := new(pageBody)
	first := bodyRef{body: b, use: b.uses.Add(1)}
	copied := first
	require.True(t, first.end())
	require.False(t, copied.end(), "a copy of a released page")

	second := bodyRef{body: b, use: b.uses.Add(1)} // the body's next page
	require.False(t, first.end())
	require.False(t, copied.end())
	require.True(t, second.end(), "the next page still held it")
	require.False(t, bodyRef{}.end(), "a page of the SDK's decoding has no body")
}
