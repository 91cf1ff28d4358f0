package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/tenure"
)

// writeLine writes item as an export line the way a writer other than
// ddbsync might: attributes in any order, whitespace here and there,
// strings sometimes escaped, sets in any order.
func writeLine(r *rand.Rand, item ddbjson.Item) []byte {
	var b bytes.Buffer
	ws := func() {
		if r.IntN(6) == 0 {
			b.WriteString([]string{" ", "\t", "  ", "\r\n"}[r.IntN(4)])
		}
	}
	str := func(s string) {
		if r.IntN(4) == 0 {
			raw, _ := json.Marshal(s) // escapes <, > and & too
			b.Write(raw)
			return
		}
		var e bytes.Buffer
		enc := json.NewEncoder(&e)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		b.Write(bytes.TrimSuffix(e.Bytes(), []byte("\n")))
	}
	strs := func(ss []string) {
		ss = slices.Clone(ss)
		r.Shuffle(len(ss), func(i, j int) { ss[i], ss[j] = ss[j], ss[i] })
		b.WriteByte('[')
		for i, s := range ss {
			if i > 0 {
				b.WriteByte(',')
				ws()
			}
			str(s)
		}
		b.WriteByte(']')
	}
	var value func(v types.AttributeValue)
	object := func(m ddbjson.Item) {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		b.WriteByte('{')
		ws()
		for i, n := range names {
			if i > 0 {
				b.WriteByte(',')
				ws()
			}
			str(n)
			ws()
			b.WriteByte(':')
			ws()
			value(m[n])
			ws()
		}
		b.WriteByte('}')
	}
	value = func(v types.AttributeValue) {
		tag := func(t string) { b.WriteString(`{"` + t + `":`); ws() }
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			tag("S")
			str(v.Value)
		case *types.AttributeValueMemberN:
			tag("N")
			str(v.Value)
		case *types.AttributeValueMemberB:
			tag("B")
			str(base64.StdEncoding.EncodeToString(v.Value))
		case *types.AttributeValueMemberBOOL:
			tag("BOOL")
			fmt.Fprint(&b, v.Value)
		case *types.AttributeValueMemberNULL:
			tag("NULL")
			b.WriteString("true")
		case *types.AttributeValueMemberSS:
			tag("SS")
			strs(v.Value)
		case *types.AttributeValueMemberNS:
			tag("NS")
			strs(v.Value)
		case *types.AttributeValueMemberBS:
			tag("BS")
			var ss []string
			for _, x := range v.Value {
				ss = append(ss, base64.StdEncoding.EncodeToString(x))
			}
			strs(ss)
		case *types.AttributeValueMemberM:
			tag("M")
			object(v.Value)
		case *types.AttributeValueMemberL:
			tag("L")
			b.WriteByte('[')
			for i, el := range v.Value {
				if i > 0 {
					b.WriteByte(',')
					ws()
				}
				value(el)
			}
			b.WriteByte(']')
		}
		ws()
		b.WriteByte('}')
	}
	b.WriteString(`{"Item":`)
	ws()
	object(item)
	ws()
	b.WriteByte('}')
	return b.Bytes()
}

// noDigests is a [DigestSet] that holds no digest: an encoder told to keep
// the images not in it keeps every one.
type noDigests struct{}

func (noDigests) MayContain([16]byte) bool { return false }

// checkLine encodes line both ways, for each column set the fast path
// serves (digests with and without their images): when the fast path
// takes it, the long way must too, with the same row (the item as the same
// jsonb, the same digest and key). It returns whether the fast path took
// it.
func checkLine(t testing.TB, l Layout, line []byte) bool {
	t.Helper()
	var w struct{ Item json.RawMessage }
	if json.Unmarshal(line, &w) == nil && len(w.Item) > 0 {
		checkImage(t, l, w.Item)
	}
	took := false
	for _, v := range []struct {
		set  ColumnSet
		keep bool
	}{{RowColumns, false}, {DigestColumns, false}, {DigestColumns, true}} {
		set := v.set
		newEncoder := func() *Encoder {
			e := NewEncoder(l, set)
			if v.keep {
				e.KeepImagesNotIn(noDigests{})
			}
			return e
		}
		prov := Provenance{Origin: OriginExport, File: 3, Line: 7}
		fast, ok, err := newEncoder().EncodeLine(line, prov)
		require.NoError(t, err)
		if !ok {
			continue
		}
		took = true
		if v.keep {
			require.NotNil(t, fast[len(fast)-1], "the image kept")
		}
		item, err := ddbjson.DecodeExportLine(line)
		require.NoError(t, err, "the fast path took a line the decoder refuses: %s", line)
		slow, err := newEncoder().Encode(item, prov)
		require.NoError(t, err, "the fast path took a line the encoder refuses: %s", line)
		require.Len(t, fast, len(slow))
		for i := range slow {
			f, s := fast[i], slow[i]
			if fb, ok := f.([]byte); ok { // the item: the same jsonb
				ft, err := JSONBText(nil, fb)
				require.NoError(t, err)
				st, err := JSONBText(nil, s.([]byte))
				require.NoError(t, err)
				require.Equal(t, string(st), string(ft), "line %s", line)
				continue
			}
			if i == len(l.KeyColumns) && set == DigestColumns { // the key: the same jsonb
				ft, err := JSONBText(nil, []byte(f.(string)))
				require.NoError(t, err)
				st, err := JSONBText(nil, []byte(s.(string)))
				require.NoError(t, err)
				require.Equal(t, string(st), string(ft))
				continue
			}
			if fn, ok := f.(pgtype.Numeric); ok {
				fv, _ := fn.Value()
				sv, _ := s.(pgtype.Numeric).Value()
				require.Equal(t, sv, fv, "value %d of line %s", i, line)
				continue
			}
			require.Equal(t, s, f, "value %d of line %s", i, line)
		}
	}
	return took
}

// checkImage is checkLine for a stream record's new image: a GetRecords
// body holding it is decoded as the stream decodes it, and when the decoder
// keeps the image verbatim and EncodeImage takes it with the record's keys,
// the row is the one the decoder and encoder give.
func checkImage(t testing.TB, l Layout, image []byte) (took bool) {
	t.Helper()
	prov := Provenance{Origin: OriginStream, ShardID: "shard-1", Sequence: "100"}
	keys := []byte(`{"id":{"S":"?"}}`) // for an image without the layout's key
	item, itemErr := ddbjson.DecodeItem(image)
	if itemErr == nil {
		if key, err := l.Key.KeyOf(item); err == nil {
			keys, err = ddbjson.AppendWire(nil, key)
			require.NoError(t, err)
		}
	}
	body := `{"Records":[{"dynamodb":{"Keys":` + string(keys) + `,"NewImage":` + string(image) + `,"SequenceNumber":"100"}}]}`
	var rec ddbjson.StreamRecord
	_, err := ddbjson.DecodeGetRecords([]byte(body), func(_ int, r *ddbjson.StreamRecord) error { rec = *r; return nil })
	if err != nil || rec.NewImageText == "" {
		return false // refused as sent on the wire (a lossless-only tag), or decoded: the long way
	}
	require.NoError(t, itemErr, "the stream kept verbatim an image the decoder refuses: %s", image)
	fast, ok, err := NewEncoder(l, RowColumns).EncodeImage(rec.NewImageText, rec.Keys, prov)
	require.NoError(t, err)
	if !ok {
		return false
	}
	slow, err := NewEncoder(l, RowColumns).Encode(item, prov)
	require.NoError(t, err, "the fast path took an image the encoder refuses: %s", image)
	require.Len(t, fast, len(slow))
	n := len(l.KeyColumns)
	ft, err := JSONBText(nil, []byte(fast[n].(string))) // the image itself, not a copy
	require.NoError(t, err)
	st, err := JSONBText(nil, slow[n].([]byte))
	require.NoError(t, err)
	require.Equal(t, string(st), string(ft), "image %s", image)
	for i := range slow {
		if i == n {
			continue
		}
		if fn, ok := fast[i].(pgtype.Numeric); ok {
			fv, _ := fn.Value()
			sv, _ := slow[i].(pgtype.Numeric).Value()
			require.Equal(t, sv, fv, "value %d of image %s", i, image)
			continue
		}
		require.Equal(t, slow[i], fast[i], "value %d of image %s", i, image)
	}
	return true
}

func lineLayouts(t testing.TB) []Layout {
	var out []Layout
	for _, spec := range []string{"id:S", "id:S,n:N"} {
		k, err := ParseKeySchema(spec)
		require.NoError(t, err)
		l, err := NewLayout(tenure.TableName, "", k)
		require.NoError(t, err)
		out = append(out, l)
	}
	return out
}

// The fast path of an export line gives the rows the decoder and encoder
// give, for lines written every which way; it takes every tenure item.
func TestEncodeLine_IsTheLongWay(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ls := lineLayouts(t)
	gen := tenure.NewGenerator(5)
	for i := range 300 {
		it := gen.Item()
		it["n"] = &types.AttributeValueMemberN{Value: fmt.Sprintf("%d.50", i)}
		raw, err := ddbjson.EncodeItem(it)
		require.NoError(t, err)
		for _, l := range ls {
			require.True(t, checkLine(t, l, append(append([]byte(`{"Item":`), raw...), '}')), "a tenure item went the long way")
			require.True(t, checkImage(t, l, raw), "a tenure image went the long way")
			checkLine(t, l, writeLine(r, it))
		}
	}
	took := 0
	for i, it := range digestItems(3000) {
		it["n"] = &types.AttributeValueMemberN{Value: fmt.Sprint(i % 7)}
		for _, l := range ls {
			if checkLine(t, l, writeLine(r, it)) {
				took++
			}
		}
	}
	require.Greater(t, took, 100, "the fast path took almost nothing")
}

// Damaged lines: whatever the fast path takes, the long way takes too,
// with the same row.
func TestEncodeLine_DamagedLines(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ls := lineLayouts(t)
	gen := tenure.NewGenerator(9)
	for range 3000 {
		it := gen.Item()
		it["n"] = &types.AttributeValueMemberN{Value: "1"}
		line := writeLine(r, it)
		for range 1 + r.IntN(3) {
			i := r.IntN(len(line))
			switch r.IntN(3) {
			case 0:
				line = append(line[:i], line[i+1:]...)
			case 1:
				line[i] = `{}[]":,\ x0-"`[r.IntN(13)]
			default:
				line = slices.Insert(line, i, `{}[]":,\ x0-"`[r.IntN(13)])
			}
		}
		for _, l := range ls {
			checkLine(t, l, line)
		}
	}
}

func FuzzEncodeLine(f *testing.F) {
	gen := tenure.NewGenerator(1)
	r := rand.New(rand.NewPCG(1, 1))
	for range 5 {
		f.Add(writeLine(r, gen.Item()))
	}
	f.Add([]byte(`{"Item":{"id":{"S":"a"},"n":{"N":"1"},"m":{"M":{"x":{"L":[{"NULL":true},{"BOOL":false}]}}}}}`))
	ls := lineLayouts(f)
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, l := range ls {
			checkLine(t, l, line)
		}
	})
}
