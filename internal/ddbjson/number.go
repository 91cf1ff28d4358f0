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

func (d decimal) String() string {
	if d.intDigits != "" {
		d.digits = d.intDigits + d.fracDigits
	}
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
