package sqlite

import (
	"errors"
	"reflect"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []cursor{
		{sig: "h", keys: []any{int64(1700000000000000), int64(42)}},
		{back: true, sig: "x1", keys: []any{nil, "smith|ü", 1.5, int64(-3)}},
		{sig: "s", keys: []any{"", "n", "i12", int64(0)}},
		{sig: "empty"},
	} {
		got, err := decodeCursor(encodeCursor(c))
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip: got %+v, want %+v", got, c)
		}
	}
}

func TestCursorRejectsGarbage(t *testing.T) {
	for _, s := range []string{"", "!!!", "bm90IGpzb24", "WyJ4IiwiaCJd" /* ["x","h"] */, "WyJuIiwiaCIsInoxIl0" /* ["n","h","z1"] */, "WyJuIiwiaCIsImlhYmMiXQ" /* ["n","h","iabc"] */} {
		if _, err := decodeCursor(s); !errors.Is(err, errBadCursor) {
			t.Errorf("decodeCursor(%q) = %v, want errBadCursor", s, err)
		}
	}
}
