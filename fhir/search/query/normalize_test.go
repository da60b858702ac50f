package query

import (
	"math"
	"testing"
	"time"
)

func TestNormString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"smith", "smith"},
		{"Smith", "smith"},
		{"Hélène", "helene"},
		{"HÉLÈNE", "helene"},
		{"Müller", "muller"},
		{"Straße", "strasse"},
		{"Øster", "oster"},
		{"Łódź", "lodz"},
		{"Ærø", "aero"},
		{"Œuvre", "oeuvre"},
		{"ﬁle", "file"},
		{"François Çağlar", "francois caglar"},
		{"Ñandú", "nandu"},
		{"Ĳssel", "ijssel"},
		{"Ελένη", "ελενη"},
		{"日本", "日本"},
	} {
		if got := NormString(tc.in); got != tc.want {
			t.Errorf("NormString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func us(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func TestDateRange(t *testing.T) {
	for _, tc := range []struct {
		in        string
		low, high string
	}{
		{"2020", "2020-01-01T00:00:00Z", "2020-12-31T23:59:59.999999Z"},
		{"2020-02", "2020-02-01T00:00:00Z", "2020-02-29T23:59:59.999999Z"},
		{"2021-02", "2021-02-01T00:00:00Z", "2021-02-28T23:59:59.999999Z"},
		{"2020-12", "2020-12-01T00:00:00Z", "2020-12-31T23:59:59.999999Z"},
		{"2020-03-04", "2020-03-04T00:00:00Z", "2020-03-04T23:59:59.999999Z"},
		{"2020-03-04T10:20Z", "2020-03-04T10:20:00Z", "2020-03-04T10:20:59.999999Z"},
		{"2020-03-04T10:20", "2020-03-04T10:20:00Z", "2020-03-04T10:20:59.999999Z"},
		{"2020-03-04T10:20:30Z", "2020-03-04T10:20:30Z", "2020-03-04T10:20:30.999999Z"},
		{"2020-03-04T10:20:30+02:00", "2020-03-04T08:20:30Z", "2020-03-04T08:20:30.999999Z"},
		{"2020-03-04T00:20:30-05:30", "2020-03-04T05:50:30Z", "2020-03-04T05:50:30.999999Z"},
		{"2020-03-04T10:20:30.5Z", "2020-03-04T10:20:30.5Z", "2020-03-04T10:20:30.599999Z"},
		{"2020-03-04T10:20:30.123Z", "2020-03-04T10:20:30.123Z", "2020-03-04T10:20:30.123999Z"},
		{"2020-03-04T10:20:30.123456Z", "2020-03-04T10:20:30.123456Z", "2020-03-04T10:20:30.123456Z"},
		{"2020-03-04T10:20:30.1234567Z", "2020-03-04T10:20:30.123456Z", "2020-03-04T10:20:30.123456Z"},
		{"1899-12-31", "1899-12-31T00:00:00Z", "1899-12-31T23:59:59.999999Z"},
	} {
		lo, hi, err := DateRange(tc.in)
		if err != nil {
			t.Errorf("DateRange(%q): %v", tc.in, err)
			continue
		}
		if lo != us(tc.low) || hi != us(tc.high) {
			t.Errorf("DateRange(%q) = [%v, %v], want [%s, %s]", tc.in,
				time.UnixMicro(lo).UTC().Format(time.RFC3339Nano), time.UnixMicro(hi).UTC().Format(time.RFC3339Nano), tc.low, tc.high)
		}
	}
	for _, bad := range []string{"", "20", "202", "2020-", "2020-1", "2020-13", "2020-00", "2020-02-30", "2021-02-29",
		"2020-01-01T", "2020-01-01T10", "2020-01-01T24:00Z", "2020-01-01T10:60Z", "2020-01-01T10:00:61Z",
		"2020-01-01T10:00:00.Z", "2020-01-01Z", "2020Z", "2020-01-01T10:00+2", "2020-01-01T10:00+15:00",
		"2020-01-01T10:00:00Zx", "2020/01/01", "abcd", "2020-01-01 10:00"} {
		if _, _, err := DateRange(bad); err == nil {
			t.Errorf("DateRange(%q) accepted", bad)
		}
	}
}

func TestTimeRange(t *testing.T) {
	lo, hi, err := TimeRange("10:20:30")
	if err != nil || lo != (10*3600+20*60+30)*1e6 || hi != lo+999999 {
		t.Errorf("TimeRange = %d %d %v", lo, hi, err)
	}
	if _, _, err := TimeRange("10:20"); err == nil {
		t.Error("TimeRange accepted hh:mm")
	}
}

func TestNumberRange(t *testing.T) {
	for _, tc := range []struct {
		in           string
		v, low, high float64
	}{
		{"100", 100, 99.5, 100.5},
		{"100.00", 100, 99.995, 100.005},
		{"2.0", 2, 1.95, 2.05},
		{"1e2", 100, 50, 150},
		{"1.00e2", 100, 99.5, 100.5},
		{"1E-2", 0.01, 0.005, 0.015},
		{"-5", -5, -5.5, -4.5},
		{"+5", 5, 4.5, 5.5},
		{"0", 0, -0.5, 0.5},
		{".5", 0.5, 0.45, 0.55},
	} {
		v, lo, hi, err := NumberRange(tc.in)
		if err != nil {
			t.Errorf("NumberRange(%q): %v", tc.in, err)
			continue
		}
		if !near(v, tc.v) || !near(lo, tc.low) || !near(hi, tc.high) {
			t.Errorf("NumberRange(%q) = %v [%v, %v], want %v [%v, %v]", tc.in, v, lo, hi, tc.v, tc.low, tc.high)
		}
	}
	for _, bad := range []string{"", "-", ".", "1.", "1e", "1e+", "abc", "1,5", "NaN", "Inf", "0x10", "1e99999", "5 "} {
		if _, _, _, err := NumberRange(bad); err == nil {
			t.Errorf("NumberRange(%q) accepted", bad)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestMatch(t *testing.T) {
	// search 2020-01 (whole January) against stored ranges
	q0, q1, _ := DateRange("2020-01")
	day := func(s string) (int64, int64) { lo, hi, _ := DateRange(s); return lo, hi }
	for _, tc := range []struct {
		p    Prefix
		v    string
		want bool
	}{
		{EQ, "2020-01-15", true}, {EQ, "2020-02-01", false}, {EQ, "2020", false},
		{NE, "2020-01-15", false}, {NE, "2020-02-01", true},
		{GT, "2020-02-01", true}, {GT, "2020-01-31", false},
		{LT, "2019-12-31", true}, {LT, "2020-01-01", false},
		{GE, "2020-01-01", true}, {GE, "2019-12-31", false},
		{LE, "2020-01-31", true}, {LE, "2020-02-01", false},
		{SA, "2020-02-01", true}, {SA, "2020", false},
		{EB, "2019-12-31", true}, {EB, "2020", false},
		{AP, "2020", true}, {AP, "2021", false},
	} {
		lo, hi := day(tc.v)
		if got := Match(tc.p, q0, q1, lo, hi); got != tc.want {
			t.Errorf("Match(%s 2020-01, %s) = %v", tc.p, tc.v, got)
		}
	}
	lo, hi := ApproxRange(100, 99.5, 100.5)
	if lo != 90 || hi != 110 {
		t.Errorf("ApproxRange = %v %v", lo, hi)
	}
}
