package incrfloat_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cachet-go/cachet/internal/incrfloat"
	"github.com/cachet-go/cachet/internal/testserver"
	"github.com/cachet-go/cachet/store"
)

// The tests compare the package with a real redis-server: the same
// stored text and the same refusals, byte for byte.

var ctx = context.Background()

func newRedis(t *testing.T) *redis.Client {
	srv := testserver.Redis(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// sequences are increments applied in turn to one missing key.
var sequences = [][]float64{
	{0.1, 0.2},
	{1e20},
	{10.5},
	{3},
	{1, -1},
	{math.Copysign(0, -1)},
	{-1e-20},
	{0.1, -0.1},
	{1e-20},
	{5e-18},
	{123456789.123456789},
	{2.5, 2.5},
	{1e19, 1},
	{9007199254740993},
	{math.MaxFloat64, math.MaxFloat64},
	{1e300, 1e300},
	{0.3333333333333333, 0.3333333333333333, 0.3333333333333333},
	{-7.25, 0.125, 1e-9},
	{math.SmallestNonzeroFloat64},
}

func TestAdd_MatchesRedis(t *testing.T) {
	c := newRedis(t)
	r := rand.New(rand.NewPCG(1, 2))
	seqs := append([][]float64(nil), sequences...)
	for range 50 {
		seq := make([]float64, 1+r.IntN(8))
		for i := range seq {
			seq[i] = (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(30)-12))
		}
		seqs = append(seqs, seq)
	}
	for _, seq := range seqs {
		c.Del(ctx, "k")
		var old []byte
		for _, d := range seq {
			got, sum, err := incrfloat.Add(old, d)
			rsum, rerr := c.Do(ctx, "incrbyfloat", "k", incrfloat.FormatDelta(d)).Text()
			stored, _ := c.Get(ctx, "k").Bytes()
			if rerr != nil {
				t.Fatalf("%v: INCRBYFLOAT %v: %v", seq, d, rerr)
			}
			if string(got) != string(stored) || string(got) != rsum {
				t.Fatalf("%v: after %v: got %q; want %q (as Redis stores it)", seq, d, got, stored)
			}
			want, _ := incrfloat.Result(stored)
			if sum != want && !(errors.Is(err, store.ErrOverflow) && math.IsInf(sum, 0)) {
				t.Fatalf("%v: after %v: got sum %v, %v; want %v", seq, d, sum, err, want)
			}
			old = got
		}
	}
}

// TestParse_MatchesRedis stores a value and increments it by 1, on Redis
// and here: the same text, or both refuse (not a float, or NaN/Inf).
func TestParse_MatchesRedis(t *testing.T) {
	c := newRedis(t)
	values := []string{
		"1e3", " 1", "1 ", "+1", "-1", ".5", "5.", "-.5", "1.e2", "0x10", "0X1p4", "0x.8", "0x1.8p1",
		"0x", "0x.", "0xg", "inf", "-inf", "Infinity", "INF", "nan", "NaN", "abc", "1_0", "1p3", "",
		"007", "00x1", "0b1", "0o7", "1e", "1e+", "1e-5", "1E5", "1e99999", "1e-99999", "0e-99999",
		"1e4932", "1e4933", "1.18e4932", "1e-4950", "1e-4952", "-0", "0", ".", "+", "-", "1..2",
		"12345678901234567890123", "0.30000000000000004", "0x1p16383", "0x1p16384", "0x1p-16445", "0x1p-16446",
		"1\t", "\n1", "٣", strings.Repeat("1", 5119), strings.Repeat("1", 5120),
	}
	for _, v := range values {
		c.Set(ctx, "k", v, 0)
		rsum, rerr := c.Do(ctx, "incrbyfloat", "k", "1").Text()
		got, _, err := incrfloat.Add([]byte(v), 1)
		switch {
		case rerr != nil && strings.Contains(rerr.Error(), "not a valid float"):
			if !errors.Is(err, store.ErrNotNumber) {
				t.Errorf("Add(%.40q, 1): got %q, %v; want ErrNotNumber (Redis: %v)", v, got, err, rerr)
			}
		case rerr != nil && strings.Contains(rerr.Error(), "NaN or Infinity"):
			if !errors.Is(err, store.ErrOverflow) {
				t.Errorf("Add(%.40q, 1): got %q, %v; want ErrOverflow (Redis: %v)", v, got, err, rerr)
			}
		case rerr != nil:
			t.Fatalf("INCRBYFLOAT over %q: %v", v, rerr)
		default:
			if string(got) != rsum {
				t.Errorf("Add(%.40q, 1): got %q, %v; want %.60q as Redis", v, got, err, rsum)
			}
		}
	}
}

func TestCheckDelta(t *testing.T) {
	for _, d := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if err := incrfloat.CheckDelta(d); !errors.Is(err, store.ErrInvalidValue) {
			t.Errorf("CheckDelta(%v): got %v; want ErrInvalidValue", d, err)
		}
	}
	if err := incrfloat.CheckDelta(-1.5); err != nil {
		t.Errorf("CheckDelta(-1.5): got %v; want nil", err)
	}
}
