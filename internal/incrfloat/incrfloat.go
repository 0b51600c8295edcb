// Package incrfloat is the arithmetic and the text of IncrementFloat,
// shared by every store so that all of them write the bytes Redis's
// INCRBYFLOAT writes (see store.FloatIncrementer).
//
// Redis (on x86-64) parses the stored value and the increment with strtold
// into an 80-bit long double, adds them in that precision (a 64-bit
// mantissa), and prints the sum with "%.17Lf", trailing zeros and a
// trailing point removed and "-0" written "0". This package does the same
// with math/big at 64 bits of precision, rounding to nearest even as the
// x87 unit does, and the same range limits.
package incrfloat

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/cachet-go/cachet/store"
)

// prec is the mantissa width of the x86-64 long double.
const prec = 64

// maxLen is the length from which Redis refuses a value as a float
// (MAX_LONG_DOUBLE_CHARS).
const maxLen = 5 * 1024

// maxExtended is the largest finite long double: (2^64-1) * 2^(16383-63).
var maxExtended = func() *big.Float {
	m := new(big.Float).SetPrec(prec).SetUint64(math.MaxUint64)
	return m.SetMantExp(m, 16383-63)
}()

// minExtended is the smallest positive long double (a subnormal):
// 2^-16445. A nonzero value that rounds below half of it is read as zero
// with ERANGE, which Redis refuses.
var minExtended = new(big.Float).SetPrec(prec).SetMantExp(big.NewFloat(1), -16445)

// CheckDelta returns an error wrapping store.ErrInvalidValue for a NaN or
// infinite delta.
func CheckDelta(delta float64) error {
	if math.IsNaN(delta) || math.IsInf(delta, 0) {
		return fmt.Errorf("%w: increment %v is not a finite number", store.ErrInvalidValue, delta)
	}
	return nil
}

// FormatDelta returns the text of delta to send to a server: the shortest
// decimal that reads back as delta. Every store reads this same text
// (with Parse) as its increment, so that all add the same long double.
func FormatDelta(delta float64) string {
	return strconv.FormatFloat(delta, 'g', -1, 64)
}

// Add returns the text to store for old + delta (old is nil for a missing
// key, which counts as 0), and that text read as a float64 (see Result).
// delta must have passed CheckDelta. Errors wrap store.ErrNotNumber (old
// is not a number) or store.ErrOverflow (the sum is infinite, or beyond a
// float64: then text is still the text to store, and sum is ±Inf).
func Add(old []byte, delta float64) (text []byte, sum float64, err error) {
	x := new(big.Float).SetPrec(prec)
	if old != nil {
		v, err := Parse(old)
		if err != nil {
			return nil, 0, err
		}
		x.Set(v)
	}
	d, err := Parse([]byte(FormatDelta(delta)))
	if err != nil {
		return nil, 0, err // cannot happen for a finite delta
	}
	if x.IsInf() {
		return nil, 0, fmt.Errorf("%w: increment would produce NaN or Infinity", store.ErrOverflow)
	}
	x.Add(x, d)
	if x.IsInf() || new(big.Float).Abs(x).Cmp(maxExtended) > 0 {
		return nil, 0, fmt.Errorf("%w: increment would produce NaN or Infinity", store.ErrOverflow)
	}
	text = Format(x)
	sum, err = Result(text)
	return text, sum, err
}

// Format returns x as Redis prints a long double for humans.
func Format(x *big.Float) []byte {
	s := x.Text('f', 17)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return []byte(s)
}

// Result reads text, as Add or a server returned it, into a float64. Text
// beyond float64's range gives ±Inf and an error wrapping
// store.ErrOverflow.
func Result(text []byte) (float64, error) {
	f, err := strconv.ParseFloat(string(text), 64)
	var ne *strconv.NumError
	if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) && math.IsInf(f, 0) {
		return f, fmt.Errorf("%w: %s is stored, but it is beyond a float64", store.ErrOverflow, show(text))
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %q", store.ErrNotNumber, show(text))
	}
	return f, nil
}

// Parse reads b as Redis reads a long double (strtold on the whole value,
// no leading space, at most maxLen bytes, NaN and out-of-range values
// refused), into a big.Float of 64 bits of precision. Infinity is
// accepted, as strtold accepts it. Errors wrap store.ErrNotNumber.
func Parse(b []byte) (*big.Float, error) {
	notNumber := func() error { return fmt.Errorf("%w: %q", store.ErrNotNumber, show(b)) }
	if len(b) == 0 || len(b) >= maxLen {
		return nil, notNumber()
	}
	s := string(b)
	body := s
	neg := false
	if body[0] == '+' || body[0] == '-' {
		neg = body[0] == '-'
		body = body[1:]
	}
	if l := strings.ToLower(body); l == "inf" || l == "infinity" {
		return new(big.Float).SetPrec(prec).SetInf(neg), nil
	}
	hex := len(body) > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')
	base, expChar, isDigit := 10, byte('e'), isDec
	digits := body
	if hex {
		base, expChar, isDigit = 0, 'p', isHex
		digits = body[2:]
	}
	// mantissa: digits [. digits], at least one digit; then an optional
	// exponent with at least one digit.
	i, n, lead, intDigits, zero := 0, 0, -1, 0, true
	for ; i < len(digits) && isDigit(digits[i]); i++ {
		n++
		intDigits++
		if digits[i] != '0' && lead < 0 {
			lead = n
		}
	}
	fracZeros := 0
	if i < len(digits) && digits[i] == '.' {
		for i++; i < len(digits) && isDigit(digits[i]); i++ {
			n++
			if digits[i] != '0' && lead < 0 {
				lead = n
			}
			if lead < 0 {
				fracZeros++
			}
		}
	}
	if n == 0 {
		return nil, notNumber()
	}
	if lead >= 0 {
		zero = false
	}
	exp := 0
	if i < len(digits) && (digits[i]|0x20) == expChar {
		i++
		eneg := false
		if i < len(digits) && (digits[i] == '+' || digits[i] == '-') {
			eneg = digits[i] == '-'
			i++
		}
		start := i
		for ; i < len(digits) && isDec(digits[i]); i++ {
			if exp < 1e6 {
				exp = exp*10 + int(digits[i]-'0')
			}
		}
		if i == start {
			return nil, notNumber()
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(digits) {
		return nil, notNumber()
	}
	if zero {
		return new(big.Float).SetPrec(prec), nil // its sign never shows: "-0" prints as "0"
	}
	// The magnitude, in digits of the base (decimal digits, or bits for
	// hexadecimal), bounds the work of an exact parse: far beyond the long
	// double's range the answer is known without it.
	mag := exp
	if hex {
		mag += 4 * (intDigits - lead + 1)
		if intDigits < lead {
			mag = exp - 4*fracZeros
		}
		if mag > 16384+8 || mag < -16446-8 {
			return nil, notNumber()
		}
	} else {
		mag += intDigits - lead + 1
		if intDigits < lead {
			mag = exp - fracZeros
		}
		if mag > 4933+2 || mag < -4951-2 {
			return nil, notNumber()
		}
	}
	x, _, err := big.ParseFloat(s, base, prec, big.ToNearestEven)
	if err != nil {
		return nil, notNumber()
	}
	abs := new(big.Float).Abs(x)
	if abs.Cmp(maxExtended) > 0 {
		return nil, notNumber() // ERANGE, HUGE_VAL
	}
	if half := new(big.Float).SetMantExp(minExtended, -1); abs.Cmp(half) <= 0 {
		return nil, notNumber() // ERANGE, rounded to zero
	}
	return x, nil
}

func isDec(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDec(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }

// show shortens a value quoted in an error message.
func show(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}
