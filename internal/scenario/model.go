package scenario

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// The table every scenario uses: a hash and a numeric range key, so both
// key column types and composite keys are exercised.
const (
	tableName = "ScenarioItems"
	keySpec   = "pk:S,sk:N"
)

// version is one state of a key: its image after a write (enc is "" once
// deleted) and the write's ApproximateCreationDateTime.
type version struct {
	at   time.Time // the write's exact fake time
	acdt time.Time // its ApproximateCreationDateTime (whole seconds, rounded down)
	enc  string
}

// model is what the harness knows of the table: every key's history of
// states, in write order. Only the driver goroutine touches it.
type model struct {
	keys map[string][]version // canonical key JSON → versions
}

func newModel() *model { return &model{keys: make(map[string][]version)} }

// record adds a write made at at, whose stream record is dated dated (at,
// unless the emulator backdated it).
func (m *model) record(key string, at, dated time.Time, enc string) {
	m.keys[key] = append(m.keys[key], version{at: at, acdt: dated.Truncate(time.Second), enc: enc})
}

// current is the key's present state ("" for absent).
func (m *model) current(key string) string {
	v := m.keys[key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1].enc
}

// stateAt is the key's state as an export at t sees it: the last write at
// or before t ("" for absent).
func (m *model) stateAt(key string, t time.Time) string {
	enc := ""
	for _, v := range m.keys[key] {
		if !v.at.After(t) {
			enc = v.enc
		}
	}
	return enc
}

// asOf is the key's state at ts as the copy's history tells it: the last
// version whose time has passed by ts, a version's time being the latest
// ApproximateCreationDateTime of it and the versions before it (a record
// dated earlier than the one before it takes effect with it, never
// before). ts is at or after the loaded export's time T: the versions
// before T are then all past, as the export and the replay from T − 5 min
// have them.
func (m *model) asOf(key string, ts time.Time) string {
	enc := ""
	var since time.Time
	for _, v := range m.keys[key] {
		if v.acdt.After(since) {
			since = v.acdt
		}
		if !since.After(ts) {
			enc = v.enc
		}
	}
	return enc
}

// allowed lists the states a copy with watermark w may show for key: the
// state after the key's last change created before w, or any later one.
func (m *model) allowed(key string, w time.Time) []string {
	vs := m.keys[key]
	idx := -1 // the initial, absent state
	for i, v := range vs {
		if v.acdt.Before(w) {
			idx = i
		}
	}
	var out []string
	if idx == -1 {
		out = append(out, "")
		idx = 0
	}
	for _, v := range vs[idx:] {
		out = append(out, v.enc)
	}
	return out
}

// keyItem is the key of the i-th key of the key space.
func keyItem(i int) ddbjson.Item {
	sks := []string{"0", "1", "-7", "2.5", "99999999999999999999999999999999999999", "0.000001"}
	return ddbjson.Item{
		"pk": &types.AttributeValueMemberS{Value: fmt.Sprintf("p%03d", i/len(sks))},
		"sk": &types.AttributeValueMemberN{Value: sks[i%len(sks)]},
	}
}

// canonicalKey is the key part of item in canonical DynamoDB JSON.
func canonicalKey(item ddbjson.Item) (string, error) {
	b, err := ddbjson.EncodeItem(ddbjson.Item{"pk": item["pk"], "sk": item["sk"]})
	return string(b), err
}

// gen makes random attribute values of every type.
type gen struct{ r *rand.Rand }

var attrNames = []string{"a", "b", "c", "d", "name", "count", "tags", "blob", "nested", "list", "flag", "nothing"}

func (g gen) item(key ddbjson.Item) ddbjson.Item {
	it := ddbjson.Item{"pk": key["pk"], "sk": key["sk"]}
	for range g.r.IntN(6) {
		it[attrNames[g.r.IntN(len(attrNames))]] = g.value(2)
	}
	return it
}

func (g gen) str() string {
	switch g.r.IntN(12) {
	case 0:
		return ""
	case 1:
		return "with \x00 nul"
	case 2:
		return "héllo \"q\" \\ \n ✓ 😀"
	}
	return "s" + strconv.Itoa(g.r.IntN(1000))
}

func (g gen) num() string {
	switch g.r.IntN(6) {
	case 0:
		return "12345678901234567890123456789012345678"
	case 1:
		return "-0.000000000000000000000000000000000001"
	case 2:
		return strconv.Itoa(g.r.IntN(2000)-1000) + "." + strconv.Itoa(1+g.r.IntN(99))
	}
	return strconv.Itoa(g.r.IntN(100000))
}

func (g gen) value(depth int) types.AttributeValue {
	n := 10
	if depth == 0 {
		n = 8
	}
	switch g.r.IntN(n) {
	case 0:
		return &types.AttributeValueMemberS{Value: g.str()}
	case 1:
		return &types.AttributeValueMemberN{Value: g.num()}
	case 2:
		b := make([]byte, 1+g.r.IntN(8))
		for i := range b {
			b[i] = byte(g.r.IntN(256))
		}
		return &types.AttributeValueMemberB{Value: b}
	case 3:
		return &types.AttributeValueMemberBOOL{Value: g.r.IntN(2) == 0}
	case 4:
		return &types.AttributeValueMemberNULL{Value: true}
	case 5:
		return &types.AttributeValueMemberSS{Value: g.set(func() string { return g.str() })}
	case 6:
		return &types.AttributeValueMemberNS{Value: g.set(func() string { return strconv.Itoa(g.r.IntN(50)) })}
	case 7:
		var bs [][]byte
		for _, s := range g.set(func() string { return strconv.Itoa(g.r.IntN(20)) }) {
			bs = append(bs, []byte(s))
		}
		return &types.AttributeValueMemberBS{Value: bs}
	case 8:
		l := make([]types.AttributeValue, g.r.IntN(4))
		for i := range l {
			l[i] = g.value(depth - 1)
		}
		return &types.AttributeValueMemberL{Value: l}
	default:
		m := map[string]types.AttributeValue{}
		for range g.r.IntN(4) {
			m[attrNames[g.r.IntN(len(attrNames))]] = g.value(depth - 1)
		}
		return &types.AttributeValueMemberM{Value: m}
	}
}

// set returns 1 to 4 distinct elements.
func (g gen) set(elem func() string) []string {
	seen := map[string]bool{}
	var out []string
	for range 1 + g.r.IntN(4) {
		e := elem()
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// update is a random UpdateItem expression: SET of one or two attributes,
// REMOVE of up to two.
func (g gen) update() (expr string, names map[string]string, values map[string]types.AttributeValue) {
	names, values = map[string]string{}, map[string]types.AttributeValue{}
	var set, remove []string
	used := map[string]bool{}
	pick := func() (string, bool) {
		a := attrNames[g.r.IntN(len(attrNames))]
		if used[a] {
			return "", false
		}
		used[a] = true
		ref := fmt.Sprintf("#n%d", len(names))
		names[ref] = a
		return ref, true
	}
	for range 1 + g.r.IntN(2) {
		if ref, ok := pick(); ok {
			v := fmt.Sprintf(":v%d", len(values))
			values[v] = g.value(1)
			set = append(set, ref+" = "+v)
		}
	}
	for range g.r.IntN(3) {
		if ref, ok := pick(); ok {
			remove = append(remove, ref)
		}
	}
	expr = "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	return expr, names, values
}
