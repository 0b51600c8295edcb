package codec_test

import (
	"encoding/gob"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cachet-go/cachet/codec"
)

// gobInner and gobOuter are registered for interface values: gobOuter
// holds another interface value, so its encoding carries gobInner's type
// definition inside its own value.
type gobInner struct {
	N    int
	Tags []string
}

type gobOuter struct {
	Name  string
	Inner any
	List  []any
}

func init() {
	gob.Register(gobInner{})
	gob.Register(gobOuter{})
	gob.Register([]any(nil))
	gob.Register(map[string]any(nil))
}

type gobHolder struct {
	ID    int
	Value any
	Many  map[string]any
	Grid  [2][]int
	When  time.Time
}

// roundTrip encodes v with Gob and decodes it again.
func gobRoundTrip[V any](t *testing.T, v V) {
	t.Helper()
	c := codec.Gob[V]()
	b, err := c.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal(%+v): %v", v, err)
	}
	var got V
	if err := c.Unmarshal(b, &got); err != nil {
		t.Fatalf("Unmarshal of Marshal(%+v): %v", v, err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("round trip: got %+v; want %+v", got, v)
	}
}

// The check that bounds what Gob's Unmarshal allocates accepts what gob
// writes: interface values (nil ones too, and ones whose type is first
// described inside another interface value), maps, arrays, GobEncoders.
func TestGob_CheckAcceptsWhatGobWrites(t *testing.T) {
	when := time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)
	gobRoundTrip(t, map[string]any{"x": nil, "y": []any{1, "a", nil}, "z": gobInner{N: 1}})
	gobRoundTrip(t, []any{nil, 2.5, map[string]any{"k": nil}})
	gobRoundTrip[any](t, gobOuter{Name: "o", Inner: gobInner{N: 2, Tags: []string{"a"}}, List: []any{"s", gobInner{N: 3}}})
	gobRoundTrip(t, gobHolder{
		ID:    7,
		Value: gobOuter{Name: "n", Inner: gobOuter{Name: "m"}, List: []any{gobInner{N: 5}}},
		Many:  map[string]any{"a": nil, "b": gobInner{Tags: []string{"t"}}},
		Grid:  [2][]int{{1, 2}, {3}},
		When:  when,
	})
	gobRoundTrip(t, [3]time.Time{when, when.Add(time.Hour), {}})
	gobRoundTrip(t, map[int][]string{1: {"a", "b"}, 2: {"c"}})
}

// What the check refuses although gob wrote it: inside an interface value
// the Go type is unknown, so any struct field may be one gob skips, and
// gob reads a skipped interface value holding a type first described
// inside it, or a nil one, differently from a decoded one.
func TestGob_CheckRefusesAmbiguous(t *testing.T) {
	for _, v := range []any{
		[]any{gobOuter{Inner: gobOuter{Inner: gobInner{N: 4}}}},
		gobOuter{List: []any{nil}},
	} {
		b, err := codec.Gob[any]().Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var got any
		if err := codec.Gob[any]().Unmarshal(b, &got); !errors.Is(err, codec.ErrDecode) || !strings.Contains(err.Error(), "interface value") {
			t.Errorf("Unmarshal of %+v: %v; want ErrDecode about an interface value", v, err)
		}
	}
}

// A struct field the Go type lacks is skipped by gob, which reads an
// interface value there differently; the check accepts it where both
// readings agree.
func TestGob_SkippedFields(t *testing.T) {
	b, err := codec.Gob[gobHolder]().Marshal(gobHolder{
		ID:    3,
		Value: gobOuter{Name: "n", List: []any{"x"}},
		Many:  map[string]any{"b": gobInner{N: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ ID int }
	if err := codec.Gob[struct{ ID int }]().Unmarshal(b, &got); err != nil || got.ID != 3 {
		t.Fatalf("Unmarshal into a struct with only ID = %+v, %v; want ID 3, nil", got, err)
	}
	// Skipped, a nil interface value, or one holding a type first
	// described inside it, is misread by gob itself (as of Go 1.26: "bad
	// data", "duplicate type"); the check refuses them first.
	for _, v := range []gobHolder{
		{ID: 3, Many: map[string]any{"a": nil}},
		{ID: 3, Value: gobOuter{Inner: gobInner{N: 1}}},
	} {
		b, err = codec.Gob[gobHolder]().Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := codec.Gob[struct{ ID int }]().Unmarshal(b, &got); !errors.Is(err, codec.ErrDecode) {
			t.Fatalf("Unmarshal of %+v into a struct with only ID: %v; want ErrDecode", v, err)
		}
	}
}
