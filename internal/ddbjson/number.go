package ddbjson

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrInvalidNumber is an N value DynamoDB would not accept.
var ErrInvalidNumber = errors.New("invalid DynamoDB number")

// maxDigits is DynamoDB's precision: 38 significant digits.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
const maxDigits = 38

// decimal is a parsed number: sign, significant digits without leading or
// trailing zeros, and the exponent such that value = 0.digits × 10^exp.
type decimal struct {
	neg    bool
	digits string
	exp    int
	// intDigits and fracDigits, when set, are the digits in two pieces
	// (either side of the decimal point), and digits is empty.
	intDigits, fracDigits string
}

func parseDecimal(s string) (decimal, error) {
	bad := func(why string) (decimal, error) {
		return decimal{}, fmt.Errorf("%w %q: %s", ErrInvalidNumber, s, why)
	}
	var d decimal
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		d.neg = s[i] == '-'
		i++
	}
	var intPart, fracPart string
	st := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart = s[st:i]
	if i < len(s) && s[i] == '.' {
		i++
		st = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		fracPart = s[st:i]
	}
	if intPart == "" && fracPart == "" {
		return bad("no digits")
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		st = i
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		e, err := strconv.Atoi(s[st:i])
		if err != nil || e > 100000 || e < -100000 {
			return bad("bad exponent")
		}
		exp = e
	}
	if i != len(s) {
		return bad("unexpected character")
	}
	// The significant digits run through intPart then fracPart; find them
	// without joining the two, which would cost an allocation per number.
	n := len(intPart) + len(fracPart)
	at := func(i int) byte {
		if i < len(intPart) {
			return intPart[i]
		}
		return fracPart[i-len(intPart)]
	}
	lead := 0
	for lead < n && at(lead) == '0' {
		lead++
	}
	if lead == n {
		return decimal{digits: ""}, nil // zero; sign dropped (-0 is 0)
	}
	end := n
	for at(end-1) == '0' {
		end--
	}
	exp += len(intPart) - lead
	if end-lead > maxDigits {
		return bad(fmt.Sprintf("more than %d significant digits", maxDigits))
	}
	// DynamoDB's range: 1E-130 to 9.99…E+125 in magnitude.
	if exp > 126 || exp < -129 {
		return bad("out of DynamoDB's range (1E-130 to 9.9E+125)")
	}
	d.exp = exp
	switch {
	case end <= len(intPart):
		d.digits = intPart[lead:end]
	case lead >= len(intPart):
		d.digits = fracPart[lead-len(intPart) : end-len(intPart)]
	default:
		// Joined only when the text is wanted ([NormalizeNumber]), not
		// when a number is merely checked.
		d.intDigits, d.fracDigits = intPart[lead:], fracPart[:end-len(intPart)]
	}
	return d, nil
}

// CheckNumber reports whether s is a number DynamoDB accepts: decimal text
// with at most 38 significant digits, within DynamoDB's range.
func CheckNumber(s string) error {
	_, err := parseDecimal(s)
	return err
}

// NormalizeNumber returns the canonical text of a DynamoDB number: plain
// decimal notation, no exponent, no leading or trailing zeros, "0" for zero.
// This is the form DynamoDB itself returns, and it is valid both as a JSON
// number and as PostgreSQL numeric input.
func NormalizeNumber(s string) (string, error) {
	d, err := parseDecimal(s)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

func (d decimal) String() string { return string(d.appendTo(nil)) }

// appendTo appends the canonical text (see [NormalizeNumber]) to dst.
func (d decimal) appendTo(dst []byte) []byte {
	if d.digits == "" && d.intDigits == "" {
		return append(dst, '0')
	}
	if d.neg {
		dst = append(dst, '-')
	}
	// The digits, in one piece or two, with the point after the first exp.
	nd := len(d.digits) + len(d.intDigits) + len(d.fracDigits)
	digits := func(dst []byte, from, to int) []byte {
		if d.digits != "" {
			return append(dst, d.digits[from:to]...)
		}
		for i := from; i < to; i++ {
			if i < len(d.intDigits) {
				dst = append(dst, d.intDigits[i])
			} else {
				dst = append(dst, d.fracDigits[i-len(d.intDigits)])
			}
		}
		return dst
	}
	switch {
	case d.exp <= 0:
		dst = append(dst, "0."...)
		for range -d.exp {
			dst = append(dst, '0')
		}
		dst = digits(dst, 0, nd)
	case d.exp >= nd:
		dst = digits(dst, 0, nd)
		for range d.exp - nd {
			dst = append(dst, '0')
		}
	default:
		dst = digits(dst, 0, d.exp)
		dst = append(dst, '.')
		dst = digits(dst, d.exp, nd)
	}
	return dst
}
