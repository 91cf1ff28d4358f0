// Package views gives a loaded table typed views an analyst queries like
// any table: one column per top-level attribute, typed from what the items
// hold, key columns first, and child views for lists of maps.
//
// The inference reads the data table's item column (a sample, or every
// item) and decodes it with the codec on every core (infer.go: what each
// attribute's values are); plan.go turns what was seen into columns by the
// type rules, and keeps an existing view's columns, names and order,
// widening a column's type only up a chain (bigint → numeric; date →
// timestamptz → text; anything → jsonb). [Run] writes the views in one
// transaction; [Refresh] and [Keep] do it for a follower when the rows its
// stream wrote bring an attribute or a type the views lack. Every SQL
// statement, the column expressions included, is reconcile/store's
// (views.go).
package views
