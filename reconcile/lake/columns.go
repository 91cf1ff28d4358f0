package lake

import (
	"fmt"
	"math/big"
	"reflect"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/parquet-go/parquet-go"

	"github.com/ddbsync/ddbsync/reconcile/store"
)

// The one mapping of PostgreSQL column types to Parquet (the README's
// "Publishing a daily cut" lists it):
//
//	text, varchar, char, uuid, …  STRING (UTF8)
//	json, jsonb                    JSON (a string of the document)
//	boolean                        BOOLEAN
//	smallint, integer              INT(32)
//	bigint                         INT(64)
//	real, double precision         FLOAT, DOUBLE
//	numeric(p,s), p ≤ 38           DECIMAL(p,s), a FIXED_LEN_BYTE_ARRAY
//	numeric, or p > 38             STRING: PostgreSQL's exact text of it
//	date                           DATE
//	timestamptz                    TIMESTAMP(MICROS, adjusted to UTC)
//	timestamp                      TIMESTAMP(MICROS, local)
//	bytea                          BYTE_ARRAY
//	smallint[]…bigint[]            LIST of INT(64)
//	boolean[], float8[]            LIST of BOOLEAN, DOUBLE
//	any other array (text[], …)    LIST of STRING, each element's text
//	anything else                  STRING: its text
//
// Every column is optional (nullable), and so is every list element.

// kind is how one column is read and written.
type kind int

const (
	kindString kind = iota
	kindJSON
	kindBool
	kindInt32
	kindInt64
	kindFloat32
	kindFloat64
	kindDecimal
	kindDate
	kindTimestampTZ
	kindTimestamp
	kindBytes
	kindListString
	kindListInt64
	kindListBool
	kindListFloat64
)

// maxDecimalPrecision is the widest DECIMAL readers commonly take (Spark,
// Athena, DuckDB): 38 digits. DynamoDB numbers have up to 38 significant
// digits but any scale, so an unconstrained numeric is a string.
const maxDecimalPrecision = 38

// column is one column of a cut: its PostgreSQL type, its Parquet node,
// and how its values are scanned and turned into Parquet values.
type column struct {
	pg        store.CutColumn
	kind      kind
	precision int // kindDecimal
	scale     int // kindDecimal
	width     int // kindDecimal: bytes of the FIXED_LEN_BYTE_ARRAY
	node      parquet.Node
}

func newColumn(c store.CutColumn) column {
	col := column{pg: c, kind: kindOf(c)}
	if col.kind == kindDecimal {
		// numeric's type modifier is ((precision << 16) | scale) + 4.
		mod := int(c.TypeMod - 4)
		col.precision, col.scale = mod>>16, mod&0xffff
		col.width = decimalWidth(col.precision)
	}
	col.node = col.parquetNode()
	return col
}

func kindOf(c store.CutColumn) kind {
	switch c.TypeOID {
	case pgtype.JSONOID, pgtype.JSONBOID:
		return kindJSON
	case pgtype.BoolOID:
		return kindBool
	case pgtype.Int2OID, pgtype.Int4OID:
		return kindInt32
	case pgtype.Int8OID:
		return kindInt64
	case pgtype.Float4OID:
		return kindFloat32
	case pgtype.Float8OID:
		return kindFloat64
	case pgtype.NumericOID:
		if c.TypeMod >= 4 {
			if p := int(c.TypeMod-4) >> 16; p >= 1 && p <= maxDecimalPrecision {
				return kindDecimal
			}
		}
		return kindString
	case pgtype.DateOID:
		return kindDate
	case pgtype.TimestamptzOID:
		return kindTimestampTZ
	case pgtype.TimestampOID:
		return kindTimestamp
	case pgtype.ByteaOID:
		return kindBytes
	}
	if c.ElemOID != 0 {
		switch c.ElemOID {
		case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
			return kindListInt64
		case pgtype.BoolOID:
			return kindListBool
		case pgtype.Float8OID:
			return kindListFloat64
		}
		return kindListString
	}
	return kindString
}

// decimalWidth is the fewest bytes whose two's complement holds every
// number of precision digits.
func decimalWidth(precision int) int {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(precision)), nil)
	// limit-1 must fit in 8n-1 bits (one for the sign).
	return (limit.BitLen() + 1 + 7) / 8
}

func (c column) parquetNode() parquet.Node {
	var n parquet.Node
	switch c.kind {
	case kindJSON:
		n = parquet.JSON()
	case kindBool:
		n = parquet.Leaf(parquet.BooleanType)
	case kindInt32:
		n = parquet.Int(32)
	case kindInt64:
		n = parquet.Int(64)
	case kindFloat32:
		n = parquet.Leaf(parquet.FloatType)
	case kindFloat64:
		n = parquet.Leaf(parquet.DoubleType)
	case kindDecimal:
		n = parquet.Decimal(c.scale, c.precision, parquet.FixedLenByteArrayType(c.width))
	case kindDate:
		n = parquet.Date()
	case kindTimestampTZ:
		n = parquet.Timestamp(parquet.Microsecond)
	case kindTimestamp:
		n = parquet.TimestampAdjusted(parquet.Microsecond, false)
	case kindBytes:
		n = parquet.Leaf(parquet.ByteArrayType)
	case kindListString:
		n = parquet.List(parquet.Optional(parquet.String()))
	case kindListInt64:
		n = parquet.List(parquet.Optional(parquet.Int(64)))
	case kindListBool:
		n = parquet.List(parquet.Optional(parquet.Leaf(parquet.BooleanType)))
	case kindListFloat64:
		n = parquet.List(parquet.Optional(parquet.Leaf(parquet.DoubleType)))
	default:
		n = parquet.String()
	}
	return parquet.Optional(n)
}

// parquetType names the column's Parquet type for the manifest.
func (c column) parquetType() string {
	switch c.kind {
	case kindJSON:
		return "JSON"
	case kindBool:
		return "BOOLEAN"
	case kindInt32:
		return "INT32"
	case kindInt64:
		return "INT64"
	case kindFloat32:
		return "FLOAT"
	case kindFloat64:
		return "DOUBLE"
	case kindDecimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", c.precision, c.scale)
	case kindDate:
		return "DATE"
	case kindTimestampTZ:
		return "TIMESTAMP(MICROS,UTC)"
	case kindTimestamp:
		return "TIMESTAMP(MICROS)"
	case kindBytes:
		return "BYTE_ARRAY"
	case kindListString:
		return "LIST<STRING>"
	case kindListInt64:
		return "LIST<INT64>"
	case kindListBool:
		return "LIST<BOOLEAN>"
	case kindListFloat64:
		return "LIST<DOUBLE>"
	}
	return "STRING"
}

// readAsText: the column is read as PostgreSQL prints it.
func (c column) readAsText() bool { return c.kind == kindString || c.kind == kindJSON }

// readAsTextArray: the array column is read as text[].
func (c column) readAsTextArray() bool { return c.kind == kindListString }

// newDest returns a scan destination for the column's values.
func (c column) newDest() any {
	switch c.kind {
	case kindBool:
		return new(pgtype.Bool)
	case kindInt32:
		return new(pgtype.Int4)
	case kindInt64:
		return new(pgtype.Int8)
	case kindFloat32:
		return new(pgtype.Float4)
	case kindFloat64:
		return new(pgtype.Float8)
	case kindDecimal:
		return new(pgtype.Numeric)
	case kindDate:
		return new(pgtype.Date)
	case kindTimestampTZ:
		return new(pgtype.Timestamptz)
	case kindTimestamp:
		return new(pgtype.Timestamp)
	case kindBytes:
		return new([]byte)
	case kindListString:
		return new(pgtype.FlatArray[pgtype.Text])
	case kindListInt64:
		return new(pgtype.FlatArray[pgtype.Int8])
	case kindListBool:
		return new(pgtype.FlatArray[pgtype.Bool])
	case kindListFloat64:
		return new(pgtype.FlatArray[pgtype.Float8])
	}
	return new(pgtype.Text)
}

// Definition levels of a list column: optional list (1), its repeated
// group (2), its optional element (3).
const (
	listNull  = 0
	listEmpty = 1
	elemNull  = 2
	elemSet   = 3
)

// appendValues appends the Parquet values of dest (as [column.newDest]
// made it, filled by a scan) for leaf column i, and returns how many
// bytes of data they hold.
func (c column) appendValues(row parquet.Row, i int, dest any) (parquet.Row, int, error) {
	leaf := func(v parquet.Value, valid bool, size int) (parquet.Row, int, error) {
		if !valid {
			return append(row, parquet.NullValue().Level(0, 0, i)), 0, nil
		}
		return append(row, v.Level(0, 1, i)), size, nil
	}
	switch d := dest.(type) {
	case *pgtype.Text:
		return leaf(parquet.ByteArrayValue([]byte(d.String)), d.Valid, len(d.String))
	case *pgtype.Bool:
		return leaf(parquet.BooleanValue(d.Bool), d.Valid, 1)
	case *pgtype.Int4:
		return leaf(parquet.Int32Value(d.Int32), d.Valid, 4)
	case *pgtype.Int8:
		return leaf(parquet.Int64Value(d.Int64), d.Valid, 8)
	case *pgtype.Float4:
		return leaf(parquet.FloatValue(d.Float32), d.Valid, 4)
	case *pgtype.Float8:
		return leaf(parquet.DoubleValue(d.Float64), d.Valid, 8)
	case *pgtype.Numeric:
		if !d.Valid {
			return leaf(parquet.Value{}, false, 0)
		}
		b, err := c.decimalBytes(*d)
		if err != nil {
			return row, 0, err
		}
		return leaf(parquet.FixedLenByteArrayValue(b), true, len(b))
	case *pgtype.Date:
		if d.Valid && d.InfinityModifier != pgtype.Finite {
			return row, 0, fmt.Errorf("column %s: an infinite date has no Parquet DATE", c.pg.Name)
		}
		days := d.Time.Unix() / 86400
		if d.Time.Unix() < 0 && d.Time.Unix()%86400 != 0 {
			days--
		}
		return leaf(parquet.Int32Value(int32(days)), d.Valid, 4)
	case *pgtype.Timestamptz:
		if d.Valid && d.InfinityModifier != pgtype.Finite {
			return row, 0, fmt.Errorf("column %s: an infinite timestamp has no Parquet TIMESTAMP", c.pg.Name)
		}
		return leaf(parquet.Int64Value(d.Time.UnixMicro()), d.Valid, 8)
	case *pgtype.Timestamp:
		if d.Valid && d.InfinityModifier != pgtype.Finite {
			return row, 0, fmt.Errorf("column %s: an infinite timestamp has no Parquet TIMESTAMP", c.pg.Name)
		}
		return leaf(parquet.Int64Value(d.Time.UnixMicro()), d.Valid, 8)
	case *[]byte:
		return leaf(parquet.ByteArrayValue(*d), *d != nil, len(*d))
	case *pgtype.FlatArray[pgtype.Text]:
		return appendList(row, i, *d, func(e pgtype.Text) (parquet.Value, bool, int) {
			return parquet.ByteArrayValue([]byte(e.String)), e.Valid, len(e.String)
		})
	case *pgtype.FlatArray[pgtype.Int8]:
		return appendList(row, i, *d, func(e pgtype.Int8) (parquet.Value, bool, int) {
			return parquet.Int64Value(e.Int64), e.Valid, 8
		})
	case *pgtype.FlatArray[pgtype.Bool]:
		return appendList(row, i, *d, func(e pgtype.Bool) (parquet.Value, bool, int) {
			return parquet.BooleanValue(e.Bool), e.Valid, 1
		})
	case *pgtype.FlatArray[pgtype.Float8]:
		return appendList(row, i, *d, func(e pgtype.Float8) (parquet.Value, bool, int) {
			return parquet.DoubleValue(e.Float64), e.Valid, 8
		})
	}
	return row, 0, fmt.Errorf("column %s: no Parquet conversion for %s", c.pg.Name, reflect.TypeOf(dest))
}

// appendList appends a list column's values: a NULL array, an empty one,
// or its elements, each set or null.
func appendList[E any](row parquet.Row, i int, a pgtype.FlatArray[E], elem func(E) (parquet.Value, bool, int)) (parquet.Row, int, error) {
	if a == nil {
		return append(row, parquet.NullValue().Level(0, listNull, i)), 0, nil
	}
	if len(a) == 0 {
		return append(row, parquet.NullValue().Level(0, listEmpty, i)), 0, nil
	}
	size := 0
	for j, e := range a {
		rep := min(j, 1)
		v, ok, n := elem(e)
		if !ok {
			row = append(row, parquet.NullValue().Level(rep, elemNull, i))
			continue
		}
		row = append(row, v.Level(rep, elemSet, i))
		size += n
	}
	return row, size, nil
}

// decimalBytes is n as DECIMAL(precision, scale): its unscaled value in
// big-endian two's complement, c.width bytes.
func (c column) decimalBytes(n pgtype.Numeric) ([]byte, error) {
	if n.NaN || n.InfinityModifier != pgtype.Finite {
		return nil, fmt.Errorf("column %s: NaN and infinity have no Parquet DECIMAL", c.pg.Name)
	}
	unscaled := new(big.Int).Set(n.Int)
	shift := int64(n.Exp) + int64(c.scale)
	ten := big.NewInt(10)
	switch {
	case shift > 0:
		unscaled.Mul(unscaled, new(big.Int).Exp(ten, big.NewInt(shift), nil))
	case shift < 0:
		// PostgreSQL keeps numeric(p,s) at scale s, so only trailing zeros
		// go; anything else would be a rounding, which we refuse.
		var rem big.Int
		unscaled.QuoRem(unscaled, new(big.Int).Exp(ten, big.NewInt(-shift), nil), &rem)
		if rem.Sign() != 0 {
			return nil, fmt.Errorf("column %s: %s has more than %d decimals", c.pg.Name, n.Int, c.scale)
		}
	}
	return twosComplement(unscaled, c.width)
}

// twosComplement writes v in width bytes, big-endian.
func twosComplement(v *big.Int, width int) ([]byte, error) {
	out := make([]byte, width)
	if v.Sign() >= 0 {
		if v.BitLen() > 8*width-1 {
			return nil, fmt.Errorf("%s does not fit in %d bytes", v, width)
		}
		v.FillBytes(out)
		return out, nil
	}
	// -v - 1, inverted, is v in two's complement.
	m := new(big.Int).Neg(v)
	m.Sub(m, big.NewInt(1))
	if m.BitLen() > 8*width-1 {
		return nil, fmt.Errorf("%s does not fit in %d bytes", v, width)
	}
	m.FillBytes(out)
	for i := range out {
		out[i] = ^out[i]
	}
	return out, nil
}
