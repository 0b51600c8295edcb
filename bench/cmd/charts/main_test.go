package main

import "testing"

func TestHuman(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{0.0123456, "0.0123"},
		{4.56789, "4.57"},
		{12.345, "12.3"},
		{789.4, "789"},
		{5240.1, "5,240"},
		{845123, "845,000"},
		{1234567, "1,230,000"},
		{-5240, "-5,240"},
		{0.00001234, "1.23e-05"},
	} {
		if got := human(c.in); got != c.want {
			t.Errorf("human(%v) = %q; want %q", c.in, got, c.want)
		}
	}
}
