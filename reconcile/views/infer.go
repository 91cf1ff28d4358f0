package views

import (
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// kind is a DynamoDB type, as an index into attrStats.kinds.
type kind int

const (
	kindS kind = iota
	kindN
	kindB
	kindBOOL
	kindNULL
	kindM
	kindL
	kindSS
	kindNS
	kindBS
	numKinds
)

var kindNames = [numKinds]string{"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"}

// maxFlatten is the most distinct attributes a map attribute may have to
// be flattened into columns: more, and its attribute names are data
// (ids, dates), not a record's fields.
const maxFlatten = 32

// attrStats is what the items read show of one attribute.
type attrStats struct {
	count int64 // rows having the attribute
	kinds [numKinds]int64
	// Of the S values: how many read as a date, as a timestamp (dates
	// included), as "true"/"false", hold U+0000.
	sDate, sTime, sBool, sNul int64
	// Of the N values: integers of at most 18 digits (bigint, with room).
	nInt int64
	// The attributes of its M values (one level: nil below the top).
	fields *profile
	// The attributes of the map elements of its L values, and how many
	// elements were not maps.
	elems       *profile
	elemsNonMap int64
}

// profile is what the items read show of their attributes: rows counts
// the items (or map elements) read.
type profile struct {
	rows  int64
	attrs map[string]*attrStats
	// nested: attributes' maps and lists are profiled too.
	nested bool
}

func newProfile(nested bool) *profile {
	return &profile{attrs: map[string]*attrStats{}, nested: nested}
}

// observe adds one item (or map element).
func (p *profile) observe(item ddbjson.Item) {
	p.rows++
	for name, v := range item {
		a := p.attrs[name]
		if a == nil {
			a = &attrStats{}
			p.attrs[name] = a
		}
		a.count++
		p.observeValue(a, v)
	}
}

func (p *profile) observeValue(a *attrStats, v types.AttributeValue) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		a.kinds[kindS]++
		observeString(a, v.Value)
	case *types.AttributeValueMemberN:
		a.kinds[kindN]++
		if isSmallInt(v.Value) {
			a.nInt++
		}
	case *types.AttributeValueMemberB:
		a.kinds[kindB]++
	case *types.AttributeValueMemberBOOL:
		a.kinds[kindBOOL]++
	case *types.AttributeValueMemberNULL:
		a.kinds[kindNULL]++
	case *types.AttributeValueMemberM:
		a.kinds[kindM]++
		if p.nested {
			if a.fields == nil {
				a.fields = newProfile(false)
			}
			a.fields.observe(v.Value)
		}
	case *types.AttributeValueMemberL:
		a.kinds[kindL]++
		if p.nested {
			if a.elems == nil {
				a.elems = newProfile(false)
			}
			for _, e := range v.Value {
				if m, ok := e.(*types.AttributeValueMemberM); ok {
					a.elems.observe(m.Value)
				} else {
					a.elemsNonMap++
				}
			}
		}
	case *types.AttributeValueMemberSS:
		a.kinds[kindSS]++
		for _, s := range v.Value {
			if strings.IndexByte(s, 0) >= 0 {
				a.sNul++
			}
		}
	case *types.AttributeValueMemberNS:
		a.kinds[kindNS]++
	case *types.AttributeValueMemberBS:
		a.kinds[kindBS]++
	}
}

func observeString(a *attrStats, s string) {
	switch {
	case s == "true" || s == "false":
		a.sBool++
	case strings.IndexByte(s, 0) >= 0:
		a.sNul++
	case isDate(s):
		a.sDate++
		a.sTime++
	case isTimestamp(s):
		a.sTime++
	}
}

// merge adds q's observations to p.
func (p *profile) merge(q *profile) {
	p.rows += q.rows
	for name, b := range q.attrs {
		a := p.attrs[name]
		if a == nil {
			p.attrs[name] = b
			continue
		}
		a.count += b.count
		for k := range a.kinds {
			a.kinds[k] += b.kinds[k]
		}
		a.sDate += b.sDate
		a.sTime += b.sTime
		a.sBool += b.sBool
		a.sNul += b.sNul
		a.nInt += b.nInt
		a.elemsNonMap += b.elemsNonMap
		a.fields = mergeProfiles(a.fields, b.fields)
		a.elems = mergeProfiles(a.elems, b.elems)
	}
}

func mergeProfiles(a, b *profile) *profile {
	if a == nil {
		return b
	}
	if b != nil {
		a.merge(b)
	}
	return a
}

// isSmallInt: an integer of at most 18 digits, the shape the view's
// bigint guard accepts (DynamoDB numbers reach the item column in their
// plain, normalised text).
func isSmallInt(s string) bool {
	d := strings.TrimPrefix(s, "-")
	if len(d) == 0 || len(d) > 18 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

// The shapes ddbsync.view_date and ddbsync.view_timestamptz accept
// (migrations/00010_views.sql): keep them in step.
var (
	dateShape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	timeShape = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)?$`)
)

// isDate: YYYY-MM-DD, a real day of a year PostgreSQL takes (1 to 9999).
func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || !dateShape.MatchString(s) {
		return false
	}
	t, err := time.Parse(time.DateOnly, s)
	return err == nil && t.Year() >= 1
}

// isTimestamp: a date and a time (hours, minutes, optional seconds and
// fraction), with an optional zone within ±14 hours.
func isTimestamp(s string) bool {
	if len(s) < 16 || s[4] != '-' {
		return false
	}
	m := timeShape.FindStringSubmatch(s)
	if m == nil || !isDate(m[1]) {
		return false
	}
	if two(m[2]) > 23 || two(m[3]) > 59 || (m[4] != "" && two(m[4]) > 59) {
		return false
	}
	if z := m[5]; len(z) > 1 {
		return two(z[1:3]) <= 14 && (len(z) == 3 || two(z[len(z)-2:]) <= 59)
	}
	return true
}

func two(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }
