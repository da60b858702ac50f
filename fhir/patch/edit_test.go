package patch

import (
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
)

func TestSlotEdits(t *testing.T) {
	doc := `{"a":[{"b":{"c":"x"}},{"d":1}],"p":["u","v"],"_p":[{"id":"1"},null],"q":"w","_q":{"id":"2"}}`
	tests := []struct {
		name  string
		steps []Step
		edit  func(s slot, root map[string]any, steps []Step)
		want  string
	}{
		{"remove and prune", []Step{{"a", 0}, {"b", -1}, {"c", -1}},
			func(s slot, root map[string]any, steps []Step) { s.remove(); prune(root, steps[:len(steps)-1]) },
			`{"a":[{"d":1}],"p":["u","v"],"_p":[{"id":"1"},null],"q":"w","_q":{"id":"2"}}`},
		{"remove primitive with extension", []Step{{"p", 0}},
			func(s slot, _ map[string]any, _ []Step) { s.remove() },
			`{"a":[{"b":{"c":"x"}},{"d":1}],"p":["v"],"q":"w","_q":{"id":"2"}}`},
		{"set drops old extension", []Step{{"q", -1}},
			func(s slot, _ map[string]any, _ []Step) { s.set("z", nil) },
			`{"a":[{"b":{"c":"x"}},{"d":1}],"p":["u","v"],"_p":[{"id":"1"},null],"q":"z"}`},
		{"set array member with extension", []Step{{"p", 1}},
			func(s slot, _ map[string]any, _ []Step) { s.set("y", map[string]any{"id": "3"}) },
			`{"a":[{"b":{"c":"x"}},{"d":1}],"p":["u","y"],"_p":[{"id":"1"},{"id":"3"}],"q":"w","_q":{"id":"2"}}`},
		{"insert keeps shadow aligned", []Step{{"p", 0}},
			func(s slot, _ map[string]any, _ []Step) { insertAt(s.parent, "p", 0, "t", nil) },
			`{"a":[{"b":{"c":"x"}},{"d":1}],"p":["t","u","v"],"_p":[null,{"id":"1"},null],"q":"w","_q":{"id":"2"}}`},
		{"remove last member drops the array", []Step{{"a", 1}, {"d", -1}},
			func(s slot, root map[string]any, steps []Step) { s.remove(); prune(root, steps[:len(steps)-1]) },
			`{"a":[{"b":{"c":"x"}}],"p":["u","v"],"_p":[{"id":"1"},null],"q":"w","_q":{"id":"2"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := decodeJSON(t, doc).(map[string]any)
			s, err := resolve(root, tc.steps)
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(s, root, tc.steps)
			if want := decodeJSON(t, tc.want); !fhir.Equal(root, want) {
				t.Errorf("got %v, want %v", root, want)
			}
		})
	}
	if _, err := resolve(map[string]any{"a": "x"}, []Step{{"a", -1}, {"b", -1}}); err == nil {
		t.Error("descending into a primitive should fail")
	}
}
