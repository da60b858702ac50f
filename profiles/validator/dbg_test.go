package validator
import ("testing";"sync")
func TestDebugEvalErrors(t *testing.T) {
	var mu sync.Mutex
	cnt := map[string]int{}
	msg := map[string]string{}
	evalErrHook = func(k string, err error) { mu.Lock(); cnt[k]++; msg[k] = err.Error(); mu.Unlock() }
	defer func() { evalErrHook = nil }()
	v := testValidator()
	warn := map[string]int{}
	for _, b := range r4Examples(t) {
		res := decode(t, b)
		rt, _ := res["resourceType"].(string)
		for _, is := range v.Validate(rt, res) { if is.Severity=="warning" { warn[is.Code+" "+is.Diagnostics[:min(40,len(is.Diagnostics))]]++ } }
	}
	for k, c := range cnt { t.Logf("%s %d %s", k, c, msg[k]) }
	for k, c := range warn { t.Logf("W %d %s", c, k) }
}
