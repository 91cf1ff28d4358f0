package ddbjson

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	all := intPart + fracPart
	exp += len(intPart)
	lead := 0
	for lead < len(all) && all[lead] == '0' {
		lead++
	}
	all = all[lead:]
	exp -= lead
	all = strings.TrimRight(all, "0")
	if all == "" {
		return decimal{digits: ""}, nil // zero; sign dropped (-0 is 0)
	}
	if len(all) > maxDigits {
		return bad(fmt.Sprintf("more than %d significant digits", maxDigits))
	}
	// DynamoDB's range: 1E-130 to 9.99…E+125 in magnitude.
	if exp > 126 || exp < -129 {
		return bad("out of DynamoDB's range (1E-130 to 9.9E+125)")
	}
	d.digits = all
	d.exp = exp
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

func (d decimal) String() string {
	if d.digits == "" {
		return "0"
	}
	var b strings.Builder
	if d.neg {
		b.WriteByte('-')
	}
	switch {
	case d.exp <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -d.exp))
		b.WriteString(d.digits)
	case d.exp >= len(d.digits):
		b.WriteString(d.digits)
		b.WriteString(strings.Repeat("0", d.exp-len(d.digits)))
	default:
		b.WriteString(d.digits[:d.exp])
		b.WriteByte('.')
		b.WriteString(d.digits[d.exp:])
	}
	return b.String()
}
