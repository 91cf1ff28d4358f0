package views

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// column is a column the items call for, before it is named.
type column struct {
	store.ViewColumn
	id string // what it shows: its attribute path, or the key or ordinal
}

// choice is the type the observations of one attribute call for.
type choice struct {
	typ         store.ViewType
	boolStrings bool
	why         string // why jsonb, when it is for another reason than M or L
}

// chooseType applies the type rules to one attribute seen in rows rows.
func chooseType(a *attrStats, rows int64, minShare float64) choice {
	var seen []kind
	for k := range numKinds {
		if a.kinds[k] > 0 && k != kindNULL {
			seen = append(seen, k)
		}
	}
	if len(seen) == 0 {
		return choice{typ: store.ViewJSONB, why: "only NULL seen"}
	}
	if share := float64(a.count) / float64(rows); share < minShare {
		return choice{typ: store.ViewJSONB, why: fmt.Sprintf("present in under %s of the rows read, too few to choose a type", pct(minShare))}
	}
	if len(seen) == 2 && seen[0] == kindS && seen[1] == kindBOOL {
		if a.sBool == a.kinds[kindS] {
			return choice{typ: store.ViewBoolean, boolStrings: true}
		}
		return choice{typ: store.ViewJSONB, why: `strings other than "true" and "false" beside BOOL`}
	}
	if len(seen) > 1 {
		names := make([]string, len(seen))
		for i, k := range seen {
			names[i] = kindNames[k]
		}
		return choice{typ: store.ViewJSONB, why: "conflicting types " + strings.Join(names, " and ")}
	}
	switch seen[0] {
	case kindS:
		n := a.kinds[kindS]
		switch {
		case a.sDate == n:
			return choice{typ: store.ViewDate}
		case a.sTime == n:
			return choice{typ: store.ViewTimestamptz}
		}
		return choice{typ: store.ViewText}
	case kindN:
		if a.nInt == a.kinds[kindN] {
			return choice{typ: store.ViewBigint}
		}
		return choice{typ: store.ViewNumeric}
	case kindB:
		return choice{typ: store.ViewBytea}
	case kindBOOL:
		return choice{typ: store.ViewBoolean}
	case kindSS:
		return choice{typ: store.ViewTextArray}
	case kindNS:
		return choice{typ: store.ViewNumericArray}
	case kindBS:
		return choice{typ: store.ViewByteaArray}
	}
	return choice{typ: store.ViewJSONB} // M, L
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// read says what the inference read, for the comments.
type read struct {
	rows    int64
	sampled bool
	what    string // "items" or "list elements"
}

func (r read) String() string {
	how := "all of them"
	if r.sampled {
		how = "a sample"
	}
	return fmt.Sprintf("%d %s read (%s)", r.rows, r.what, how)
}

// attrColumn is the column of attribute path, whose statistics are a.
func attrColumn(path []string, a *attrStats, r read, minShare float64) column {
	c := chooseType(a, r.rows, minShare)
	var kinds []string
	for k := range numKinds {
		if a.kinds[k] > 0 {
			kinds = append(kinds, fmt.Sprintf("%s %s", kindNames[k], pct(float64(a.kinds[k])/float64(a.count))))
		}
	}
	p, _ := json.Marshal(path)
	comment := fmt.Sprintf("DynamoDB attribute %s: %s; present in %s of the %s", p, strings.Join(kinds, ", "),
		pct(float64(a.count)/float64(r.rows)), r)
	if c.boolStrings {
		comment += `; ` + boolStringsNote
	}
	if c.why != "" {
		comment += "; jsonb (DynamoDB JSON) because " + c.why
	}
	if a.sNul > 0 && c.typ != store.ViewJSONB {
		comment += "; U+0000 in a string shows as U+FFFD (the exact string is in item)"
	}
	return column{ViewColumn: store.ViewColumn{Type: c.typ, Path: path, BoolStrings: c.boolStrings, Comment: comment}, id: string(p)}
}

const boolStringsNote = `reads the strings "true" and "false" as booleans too`

// keyColumns are the data table's key columns, first in every view.
func keyColumns(l reconcile.Layout) []column {
	var cols []column
	for i, a := range l.Key.Attributes() {
		t := store.ViewText
		switch ddbjson.ScalarType(a.Type) {
		case ddbjson.TypeN:
			t = store.ViewNumeric
		case ddbjson.TypeB:
			t = store.ViewBytea
		}
		id := "key " + a.Name
		cols = append(cols, column{ViewColumn: store.ViewColumn{Key: l.KeyColumns[i], Type: t, Name: l.KeyColumns[i],
			Comment: fmt.Sprintf("DynamoDB key attribute %q (%s), the data table's column %s", a.Name, a.Type, l.KeyColumns[i])}, id: id})
	}
	return cols
}

// viewPlan is a view and the columns the items call for.
type viewPlan struct {
	ident pgx.Identifier
	list  string
	cols  []column
	read  read
}

// plan turns a profile of the table's items into its view and child
// views, named in schema.
func plan(l reconcile.Layout, schema string, p *profile, sampled bool, minShare float64) []viewPlan {
	r := read{rows: p.rows, sampled: sampled, what: "items"}
	main := viewPlan{ident: pgx.Identifier{schema, l.Name}, cols: keyColumns(l), read: r}
	keyAttrs := map[string]bool{}
	for _, a := range l.Key.Attributes() {
		keyAttrs[a.Name] = true
	}
	var children []viewPlan
	for _, name := range sortedNames(p) {
		if keyAttrs[name] {
			continue
		}
		a := p.attrs[name]
		main.cols = append(main.cols, attrColumn([]string{name}, a, r, minShare))
		if flattenable(a) {
			fr := read{rows: a.fields.rows, sampled: sampled, what: "maps of " + name}
			for _, f := range sortedNames(a.fields) {
				c := attrColumn([]string{name, f}, a.fields.attrs[f], fr, minShare)
				c.Name = store.SnakeCase(name) + "__" + store.SnakeCase(f)
				main.cols = append(main.cols, c)
			}
		}
		if listOfMaps(a) {
			er := read{rows: a.elems.rows, sampled: sampled, what: "elements of " + name}
			child := viewPlan{ident: pgx.Identifier{schema, l.Name + "__" + store.SnakeCase(name)}, list: name, cols: keyColumns(l), read: er}
			for i := range child.cols { // the member maps have attributes of their own named id
				child.cols[i].Name = "parent_" + child.cols[i].Name
			}
			child.cols = append(child.cols, column{ViewColumn: store.ViewColumn{Name: "ordinal", Ordinal: true, Type: store.ViewBigint,
				Comment: fmt.Sprintf("the element's position in the list %q, from 1", name)}, id: "ordinal"})
			for _, f := range sortedNames(a.elems) {
				child.cols = append(child.cols, attrColumn([]string{f}, a.elems.attrs[f], er, minShare))
			}
			children = append(children, child)
		}
	}
	return append([]viewPlan{main}, children...)
}

// flattenable: a map attribute, never anything else, whose maps have a
// modest set of attributes (a record, not a dictionary).
func flattenable(a *attrStats) bool {
	return a.fields != nil && a.kinds[kindM] == a.count-a.kinds[kindNULL] && len(a.fields.attrs) > 0 && len(a.fields.attrs) <= maxFlatten
}

// listOfMaps: a list attribute, never anything else, whose elements are
// all maps (at least one seen).
func listOfMaps(a *attrStats) bool {
	return a.elems != nil && a.elems.rows > 0 && a.elemsNonMap == 0 && a.kinds[kindL] == a.count-a.kinds[kindNULL]
}

func sortedNames(p *profile) []string {
	names := make([]string, 0, len(p.attrs))
	for n := range p.attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// rank places a type on the widening chains: a column's type changes only
// up a chain (bigint → numeric; date → timestamptz → text), and anything
// else becomes jsonb, which holds every value exactly.
var rank = map[store.ViewType][2]int{
	store.ViewBigint: {1, 1}, store.ViewNumeric: {1, 2},
	store.ViewDate: {2, 1}, store.ViewTimestamptz: {2, 2}, store.ViewText: {2, 3},
}

// widen is the type a column of type old takes when the items call for
// typ: old itself when typ is no wider (a column never narrows).
func widen(old, typ store.ViewType) store.ViewType {
	if old == typ || old == store.ViewJSONB {
		return old
	}
	ro, okO := rank[old]
	rt, okT := rank[typ]
	if okO && okT && ro[0] == rt[0] {
		if rt[1] > ro[1] {
			return typ
		}
		return old
	}
	return store.ViewJSONB
}

// existingID reads back what an existing column shows from the comment
// ddbsync gave it.
func existingID(comment string) (id string, path []string, ok bool) {
	switch {
	case strings.HasPrefix(comment, "DynamoDB key attribute "):
		var name string
		if _, err := fmt.Sscanf(strings.TrimPrefix(comment, "DynamoDB key attribute "), "%q", &name); err == nil {
			return "key " + name, nil, true
		}
	case strings.HasPrefix(comment, "the element's position"):
		return "ordinal", nil, true
	case strings.HasPrefix(comment, "DynamoDB attribute ["):
		rest := strings.TrimPrefix(comment, "DynamoDB attribute ")
		if end := strings.Index(rest, "]: "); end >= 0 {
			if json.Unmarshal([]byte(rest[:end+1]), &path) == nil && len(path) > 0 {
				return rest[:end+1], path, true
			}
		}
	}
	return "", nil, false
}

// reconcileColumns keeps the existing view's columns, in their order,
// with their names, widened where the items call for a wider type, and
// appends the new ones, named so that no two collide (in the order of the
// plan, so deterministically). A column whose attribute the items no
// longer show stays as it was.
func reconcileColumns(p viewPlan, existing []store.ExistingColumn) ([]store.ViewColumn, []string, []string, error) {
	wanted := map[string]column{}
	for _, c := range p.cols {
		wanted[c.id] = c
	}
	var out []store.ViewColumn
	var added, widened []string
	taken := map[string]bool{}
	done := map[string]bool{}
	for _, e := range existing {
		id, path, ok := existingID(e.Comment)
		if !ok {
			return nil, nil, nil, fmt.Errorf("column %s of view %s has no comment of ddbsync's saying which attribute it shows: "+
				"drop the view (ddbsync creates it again) or give it back its comment", e.Name, p.ident.Sanitize())
		}
		taken[e.Name] = true
		done[id] = true
		w, seen := wanted[id]
		if !seen {
			c := store.ViewColumn{Name: e.Name, Type: e.Type, Path: path, Comment: e.Comment,
				BoolStrings: strings.Contains(e.Comment, boolStringsNote)}
			if id == "ordinal" {
				c.Ordinal = true
			}
			out = append(out, c)
			continue
		}
		c := w.ViewColumn
		c.Name = e.Name
		c.BoolStrings = c.BoolStrings || strings.Contains(e.Comment, boolStringsNote)
		if c.BoolStrings && !strings.Contains(c.Comment, boolStringsNote) {
			c.Comment += "; " + boolStringsNote
		}
		c.Type = widen(e.Type, w.Type)
		if c.Type != e.Type {
			widened = append(widened, fmt.Sprintf("%s: %s → %s", e.Name, e.Type, c.Type))
		}
		out = append(out, c)
	}
	for _, w := range p.cols {
		if done[w.id] {
			continue
		}
		c := w.ViewColumn
		if c.Name == "" {
			c.Name = store.SnakeCase(c.Path[len(c.Path)-1])
		}
		c.Name = freeName(c.Name, taken)
		taken[c.Name] = true
		added = append(added, c.Name)
		out = append(out, c)
	}
	return out, added, widened, nil
}

// freeName is name, or name_2, name_3… when taken, within PostgreSQL's
// 63 bytes.
func freeName(name string, taken map[string]bool) string {
	base := truncate(name, store.MaxIdentLen)
	if !taken[base] {
		return base
	}
	for i := 2; ; i++ {
		suffix := fmt.Sprintf("_%d", i)
		n := truncate(name, store.MaxIdentLen-len(suffix)) + suffix
		if !taken[n] {
			return n
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
