package store

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/tenure"
)

func TestJSONBText_PrintsAsPostgreSQLDoes(t *testing.T) {
	for in, want := range map[string]string{
		`{}`:                                   `{}`,
		`[]`:                                   `[]`,
		`{"bb":{"S":"x"},"a":{"L":[]},"c":{}}`: `{"a": {"L": []}, "c": {}, "bb": {"S": "x"}}`,
		`{"S":"\u0001\b\f\n\r\t\"\\/\u007f é 😀"}`:                           `{"S": "\u0001\b\f\n\r\t\"\\/` + "\x7f é 😀" + `"}`,
		`{"S":"\u00e9\ud83d\ude00"}`:                                        `{"S": "é😀"}`,
		`{"a":true,"a":false, "b" : null}`:                                  `{"a": false, "b": null}`,
		`{"L":[{"NULL":true},{"BOOL":false}]}`:                              `{"L": [{"NULL": true}, {"BOOL": false}]}`,
		`{"é":1,"z":2}`[:0] + `{"é":{"S":""},"zz":{"S":""},"zzz":{"S":""}}`: `{"zz": {"S": ""}, "é": {"S": ""}, "zzz": {"S": ""}}`,
	} {
		got, err := JSONBText(nil, []byte(in))
		require.NoError(t, err, in)
		require.Equal(t, want, string(got), in)
	}
	for _, bad := range []string{`{"N":1}`, `{"S":"\u0000"}`, `{"S":"\ud800"}`, `{"S":"x"`, `{"S" "x"}`, `{"S":"x"} x`, "{\"S\":\"\xff\"}"} {
		_, err := JSONBText(nil, []byte(bad))
		require.Error(t, err, bad)
	}
}

// digestItems are items with what is easy to get wrong: every type,
// escapes, control characters, U+0000 (stored as S0/SS0), non-ASCII and
// astral characters, keys of equal length, deep nesting, empty containers.
func digestItems(n int) []ddbjson.Item {
	r := rand.New(rand.NewPCG(7, 11))
	alphabet := []string{"a", "b", "Z", "0", " ", "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t", "\x01", "\x1f", "\x7f",
		"\x00", "é", "ß", "€", "😀", "\u2028", "\ufffd", "{", "}", "[", "]", ",", ":"}
	str := func(max int) string {
		var b strings.Builder
		for range r.IntN(max + 1) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	name := func() string {
		for {
			if s := str(4); !strings.Contains(s, "\x00") {
				return s
			}
		}
	}
	var value func(depth int) types.AttributeValue
	value = func(depth int) types.AttributeValue {
		k := r.IntN(11)
		if depth > 4 && k >= 9 {
			k = 0
		}
		switch k {
		case 0:
			return &types.AttributeValueMemberS{Value: str(12)}
		case 1:
			return &types.AttributeValueMemberN{Value: fmt.Sprintf("%d.%d", r.IntN(2000)-1000, r.IntN(100))}
		case 2:
			return &types.AttributeValueMemberB{Value: []byte(str(6))}
		case 3:
			return &types.AttributeValueMemberBOOL{Value: r.IntN(2) == 0}
		case 4:
			return &types.AttributeValueMemberNULL{Value: true}
		case 5:
			return &types.AttributeValueMemberSS{Value: []string{str(5) + "1", str(5) + "2", str(3) + "3"}}
		case 6:
			return &types.AttributeValueMemberNS{Value: []string{"3", "-1.5", "1E+2", "0.10"}}
		case 7:
			return &types.AttributeValueMemberBS{Value: [][]byte{{9}, {1, 2}, []byte(str(3) + "x")}}
		case 8:
			var l []types.AttributeValue
			for range r.IntN(4) {
				l = append(l, value(depth+1))
			}
			return &types.AttributeValueMemberL{Value: append([]types.AttributeValue{}, l...)}
		default:
			m := ddbjson.Item{}
			for range r.IntN(5) {
				m[name()] = value(depth + 1)
			}
			return &types.AttributeValueMemberM{Value: m}
		}
	}
	items := []ddbjson.Item{}
	gen := tenure.NewGenerator(3)
	for range 50 {
		items = append(items, gen.Item())
	}
	for i := range n {
		it := ddbjson.Item{"id": &types.AttributeValueMemberS{Value: fmt.Sprintf("item-%d", i)}}
		for range 1 + r.IntN(8) {
			it[name()] = value(0)
		}
		items = append(items, it)
	}
	return items
}

// Both sides of a diff must hash the same bytes: the digest computed in Go
// from an item's encoding is the one PostgreSQL computes from the stored
// item (DigestSQL), for items of every kind.
func TestDigest_IsPostgreSQLs(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := digestItems(2000)
	var docs []string
	var want [][16]byte
	var scratch DigestScratch
	for _, it := range items {
		doc, err := ddbjson.EncodeItem(it)
		require.NoError(t, err)
		docs = append(docs, string(doc))
		d, err := Digest(it, &scratch)
		require.NoError(t, err)
		want = append(want, d)
	}
	_, err := pool.Exec(t.Context(), `CREATE TABLE digests (n int, item jsonb)`)
	require.NoError(t, err)
	_, err = pool.Exec(t.Context(), `INSERT INTO digests SELECT n, item::jsonb FROM unnest($1::text[]) WITH ORDINALITY u(item, n)`, docs)
	require.NoError(t, err)
	rows, err := pool.Query(t.Context(), `SELECT `+DigestSQL("item")+`, item::text FROM digests ORDER BY n`)
	require.NoError(t, err)
	defer rows.Close() // before the pool closes, or closing it waits forever
	i := 0
	for rows.Next() {
		var got pgtype.UUID
		var text string
		require.NoError(t, rows.Scan(&got, &text))
		mine, err := JSONBText(nil, []byte(docs[i]))
		require.NoError(t, err)
		// (No testify diff: on long one-line strings it takes minutes.)
		if text != string(mine) {
			t.Fatalf("item %d: PostgreSQL prints\n%s\nJSONBText\n%s", i, text, mine)
		}
		if want[i] != got.Bytes {
			t.Fatalf("item %d: digest %x, PostgreSQL's %x: %s", i, want[i], got.Bytes, docs[i])
		}
		i++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(items), i)
}
