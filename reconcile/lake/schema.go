package lake

import (
	"slices"

	"github.com/parquet-go/parquet-go"
)

// columnGroup is the cut's root group. parquet.Group is a map and lists
// its fields by name; this one keeps the relation's column order, so the
// files' columns come in the order of the view (the key first).
type columnGroup struct {
	parquet.Group
	order []string
}

func orderedGroup(cols []column) columnGroup {
	g := columnGroup{Group: parquet.Group{}}
	for _, c := range cols {
		g.Group[c.pg.Name] = c.node
		g.order = append(g.order, c.pg.Name)
	}
	return g
}

// Fields lists the group's fields in column order.
func (g columnGroup) Fields() []parquet.Field {
	fields := g.Group.Fields()
	slices.SortFunc(fields, func(a, b parquet.Field) int {
		return slices.Index(g.order, a.Name()) - slices.Index(g.order, b.Name())
	})
	return fields
}
