// Package ddbjson is ddbsync's AttributeValue codec: it decodes DynamoDB JSON
// (the encoding used by exports and by the DynamoDB wire protocol) into
// aws-sdk-go-v2 AttributeValues, and encodes items back into two forms:
//
//   - the lossless form stored in a data table's item column: DynamoDB JSON
//     with every type tag kept, numbers as their exact decimal text, and set
//     elements in a canonical order (sets are unordered in DynamoDB, so the
//     order carries no information and a fixed one lets PostgreSQL compare
//     images with plain jsonb equality);
//   - the plain form stored in the doc column for analysts: ordinary JSON with
//     no type tags (numbers as JSON numbers, sets as arrays, binary as base64).
//
// PostgreSQL's jsonb cannot hold U+0000. DynamoDB strings may contain it, so
// the lossless form escapes such a string reversibly: {"S":"a\u0000b"} is
// stored as {"S0":"YQBi"} (base64 of the UTF-8 bytes), and a string set with
// such an element as {"SS0":[...]} with every element in base64. Neither tag
// exists in DynamoDB, and [DecodeItem] turns both back into the original
// strings. The plain form shows U+0000 as U+FFFD. Attribute names containing
// U+0000 are rejected with [ErrNulInName].
//
// The package does no I/O and is safe for concurrent use.
//
// decode.go is longer than the house's 500-line guide on purpose: it is one
// hand-written streaming decoder, every part of which shares the scanner's
// state and the codec's fast paths; split across files it would be harder
// to read, not easier.
package ddbjson
