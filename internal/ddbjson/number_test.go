package ddbjson_test

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

var numberCases = []struct {
	name string
	in   string
	want string
}{
	{"zero", "0", "0"},
	{"minus zero", "-0", "0"},
	{"minus zero fraction", "-0.000", "0"},
	{"zero exponent", "0E+99999", "0"},
	{"plus sign", "+7", "7"},
	{"leading zeros", "00042", "42"},
	{"trailing zeros", "1.500", "1.5"},
	{"one point zero", "1.0", "1"},
	{"exponent", "1.5E2", "150"},
	{"lower exponent", "15e-1", "1.5"},
	{"exponent sign", "2E+3", "2000"},
	{"negative", "-42.25", "-42.25"},
	{"fraction only", ".5", "0.5"},
	{"no fraction digits", "5.", "5"},
	{"small", "0.000123", "0.000123"},
	{"38 digits", n38, n38},
	{"38 digits negative fraction", "-1.2345678901234567890123456789012345678", "-1.2345678901234567890123456789012345678"},
	{"38 digits with zeros around", "000" + n38 + "000", n38 + "000"},
	{"largest", "9.9999999999999999999999999999999999999E+125", "99999999999999999999999999999999999999" + strings.Repeat("0", 88)},
	{"smallest positive", "1E-130", "0." + strings.Repeat("0", 129) + "1"},
	{"smallest negative", "-1E-130", "-0." + strings.Repeat("0", 129) + "1"},
	{"long text few digits", "1234567895171680000000000000000000000000", "1234567895171680000000000000000000000000"},
}

var badNumberCases = []struct {
	name string
	in   string
	msg  string
}{
	{"empty", "", "no digits"},
	{"sign only", "-", "no digits"},
	{"dot only", ".", "no digits"},
	{"39 digits", n38 + "1", "more than 38 significant digits"},
	{"39 digits fraction", "0." + n38 + "1", "more than 38 significant digits"},
	{"39 digits split by point", n38[:20] + "." + n38[20:] + "9", "more than 38 significant digits"},
	{"too large", "1E126", "range"},
	{"too large by a hair", "9.99999999999999999999999999999999999999E+125", "significant digits"},
	{"too large negative", "-1E+126", "range"},
	{"too small", "1E-131", "range"},
	{"too small fraction", "0." + strings.Repeat("0", 130) + "1", "range"},
	{"word", "abc", "no digits"},
	{"NaN", "NaN", "no digits"},
	{"Inf", "Inf", "no digits"},
	{"hex", "0x1F", "unexpected character"},
	{"two points", "1.2.3", "unexpected character"},
	{"two signs", "--1", "no digits"},
	{"space", "1 ", "unexpected character"},
	{"comma", "1,5", "unexpected character"},
	{"empty exponent", "1E", "bad exponent"},
	{"exponent sign only", "1e-", "bad exponent"},
	{"huge exponent", "1E1000000", "bad exponent"},
	{"exponent overflow", "1E99999999999999999999", "bad exponent"},
	{"fraction exponent", "1E1.5", "unexpected character"},
	{"unicode digit", "١", "no digits"},
}

func TestNormalizeNumber_Canonical(t *testing.T) {
	for _, tc := range numberCases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, ddbjson.CheckNumber(tc.in))
			got, err := ddbjson.NormalizeNumber(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			again, err := ddbjson.NormalizeNumber(got)
			require.NoError(t, err)
			require.Equal(t, got, again, "idempotent")
			require.True(t, json.Valid([]byte(got)), "a JSON number")
			checkSameValue(t, tc.in, got)
		})
	}
}

func TestCheckNumber_Rejects(t *testing.T) {
	for _, tc := range badNumberCases {
		t.Run(tc.name, func(t *testing.T) {
			err := ddbjson.CheckNumber(tc.in)
			require.ErrorIs(t, err, ddbjson.ErrInvalidNumber)
			require.Contains(t, err.Error(), tc.msg)
			_, err = ddbjson.NormalizeNumber(tc.in)
			require.ErrorIs(t, err, ddbjson.ErrInvalidNumber)
		})
	}
}

// checkSameValue asserts that normalized denotes the same value as in, by
// math/big's reading of both.
func checkSameValue(t testing.TB, in, normalized string) {
	t.Helper()
	want, ok := new(big.Rat).SetString(in)
	if !ok {
		// big.Rat reads a narrower grammar ("5." and ".5" are fine,
		// a bare sign is not); the normalized form must still be readable.
		want = nil
	}
	got, ok := new(big.Rat).SetString(normalized)
	require.True(t, ok, "big.Rat cannot read %q", normalized)
	if want != nil {
		require.Zero(t, want.Cmp(got), "%q normalized to %q, a different value", in, normalized)
	}
}
