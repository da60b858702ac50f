package query

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// NormString is the form string searches compare: lower case, accents and
// other combining marks removed, compatibility forms folded ("ﬁ" → "fi") and
// the Latin letters that do not decompose spelled out ("ß" → "ss",
// "ø" → "o"), so "Hélène" matches "helene" and "STRASSE" matches "Straße".
func NormString(s string) string {
	// Fast path: ASCII needs only lower-casing, and often not even that.
	ascii, upper := true, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if ascii {
		if !upper {
			return s
		}
		b := []byte(s)
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
		return string(b)
	}
	var b strings.Builder
	b.Grow(len(s))
	d := norm.NFKD.String(s)
	for _, r := range d {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		r = unicode.ToLower(r)
		if rep, ok := latinFold[r]; ok {
			b.WriteString(rep)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// latinFold spells out lower-case letters that carry no decomposable accent.
var latinFold = map[rune]string{
	'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'ł': "l", 'đ': "d",
	'ð': "d", 'þ': "th", 'ı': "i", 'ħ': "h", 'ŧ': "t", 'ŀ': "l", 'ĸ': "k",
}

// Time bounds for open ends of Periods and missing dates.
const (
	MinTime int64 = math.MinInt64
	MaxTime int64 = math.MaxInt64
)

var errDate = errors.New("not a valid FHIR date, dateTime or instant")

// DateRange parses a FHIR date, dateTime or instant (YYYY, YYYY-MM,
// YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss[.fff…]][Z|±hh:mm]) and returns the
// range its precision covers, in microseconds since the Unix epoch, both
// ends inclusive: "2020" covers the whole year, "2020-03-01T10:00Z" one
// minute, "…:05.1Z" a tenth of a second. Fractions finer than a microsecond
// are truncated.
//
// A value without a time zone (all dates, and dateTimes sent without one in
// a search) is taken as UTC: FHIR leaves the zone of such values to the
// server, and UTC keeps the index independent of where the server runs.
func DateRange(s string) (low, high int64, err error) {
	p := dateParser{s: s}
	year := p.digits(4)
	if year < 0 {
		return 0, 0, errDate
	}
	month, day := 1, 1
	var hour, min, sec, frac, fracDigits int
	hasTime := false
	end := func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }
	if p.eat('-') {
		if month = p.digits(2); month < 1 || month > 12 {
			return 0, 0, errDate
		}
		end = func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
		if p.eat('-') {
			if day = p.digits(2); day < 1 || day > daysIn(year, month) {
				return 0, 0, errDate
			}
			end = func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
			if p.eat('T') {
				hasTime = true
				if hour = p.digits(2); hour < 0 || hour > 23 || !p.eat(':') {
					return 0, 0, errDate
				}
				if min = p.digits(2); min < 0 || min > 59 {
					return 0, 0, errDate
				}
				end = func(t time.Time) time.Time { return t.Add(time.Minute) }
				if p.eat(':') {
					if sec = p.digits(2); sec < 0 || sec > 59 {
						return 0, 0, errDate
					}
					end = func(t time.Time) time.Time { return t.Add(time.Second) }
					if p.eat('.') {
						start := p.i
						for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
							if p.i-start < 6 {
								frac = frac*10 + int(p.s[p.i]-'0')
							}
							p.i++
						}
						fracDigits = p.i - start
						if fracDigits == 0 {
							return 0, 0, errDate
						}
						n := min6(fracDigits)
						for k := n; k < 6; k++ {
							frac *= 10
						}
						step := time.Duration(pow10(6-n)) * time.Microsecond
						end = func(t time.Time) time.Time { return t.Add(step) }
					}
				}
			}
		}
	}
	loc := time.UTC
	offset := 0
	if p.i < len(p.s) && hasTime {
		if p.s[p.i] == 'Z' {
			p.i++
		} else if p.s[p.i] == '+' || p.s[p.i] == '-' {
			sign := 1
			if p.s[p.i] == '-' {
				sign = -1
			}
			p.i++
			h := p.digits(2)
			if h < 0 || h > 14 || !p.eat(':') {
				return 0, 0, errDate
			}
			m := p.digits(2)
			if m < 0 || m > 59 {
				return 0, 0, errDate
			}
			offset = sign * (h*3600 + m*60)
		} else {
			return 0, 0, errDate
		}
	}
	if p.i != len(p.s) {
		return 0, 0, errDate
	}
	if offset != 0 {
		loc = time.FixedZone("", offset)
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, frac*1000, loc)
	return t.UnixMicro(), end(t).UnixMicro() - 1, nil
}

// TimeRange parses a FHIR time (hh:mm:ss[.fff…]) into the microseconds
// since midnight its precision covers, both ends inclusive.
func TimeRange(s string) (low, high int64, err error) {
	lo, hi, err := DateRange("1970-01-01T" + s + "Z")
	if err != nil || !strings.Contains(s, ":") || strings.Count(s, ":") < 2 {
		return 0, 0, errors.New("not a valid FHIR time")
	}
	return lo, hi, nil
}

type dateParser struct {
	s string
	i int
}

// digits reads exactly n decimal digits, or returns -1.
func (p *dateParser) digits(n int) int {
	if p.i+n > len(p.s) {
		return -1
	}
	v := 0
	for k := 0; k < n; k++ {
		c := p.s[p.i+k]
		if c < '0' || c > '9' {
			return -1
		}
		v = v*10 + int(c-'0')
	}
	p.i += n
	return v
}

func (p *dateParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func min6(n int) int {
	if n > 6 {
		return 6
	}
	return n
}

func pow10(n int) int64 {
	v := int64(1)
	for ; n > 0; n-- {
		v *= 10
	}
	return v
}

var errNumber = errors.New("not a valid number")

// NumberRange parses a decimal (optionally with an exponent) and returns its
// value and the range its precision implies: half a unit of the last
// significant digit either side, so "100" → [99.5, 100.5], "100.00" →
// [99.995, 100.005], "2.0" → [1.95, 2.05] and "1e2" (one significant digit
// in the hundreds) → [50, 150]. The ends are treated as inclusive.
func NumberRange(s string) (v, low, high float64, err error) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	intStart := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	nInt := i - intStart
	nFrac := 0
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		nFrac = i - fs
		if nFrac == 0 {
			return 0, 0, 0, errNumber
		}
	}
	if nInt == 0 && nFrac == 0 {
		return 0, 0, 0, errNumber
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		es := i
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		ds := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == ds || i-ds > 4 {
			return 0, 0, 0, errNumber
		}
		exp, _ = strconv.Atoi(s[es:i])
	}
	if i != len(s) {
		return 0, 0, 0, errNumber
	}
	v, err = strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, 0, 0, errNumber
	}
	half := 0.5 * math.Pow10(exp-nFrac)
	return v, v - half, v + half, nil
}

// Match reports whether a stored value covering [vLow, vHigh] matches a
// search value covering [qLow, qHigh] under prefix p, per the R4 rules for
// ranges (both closed). It is the reference meaning the engines' queries
// implement; AP uses ApproxRange for the widened search range.
func Match[T int64 | float64](p Prefix, qLow, qHigh, vLow, vHigh T) bool {
	switch p {
	case "", EQ:
		return vLow >= qLow && vHigh <= qHigh
	case NE:
		return !(vLow >= qLow && vHigh <= qHigh)
	case GT:
		return vHigh > qHigh
	case LT:
		return vLow < qLow
	case GE:
		return vHigh > qHigh || vLow >= qLow && vHigh <= qHigh
	case LE:
		return vLow < qLow || vLow >= qLow && vHigh <= qHigh
	case SA:
		return vLow > qHigh
	case EB:
		return vHigh < qLow
	case AP:
		return vLow <= qHigh && vHigh >= qLow
	}
	return false
}

// ApproxRange widens a number search range by 10% of the value either side,
// the server's meaning of "ap" (approximately) for numbers and quantities.
func ApproxRange(v, low, high float64) (float64, float64) {
	d := math.Abs(v) * 0.1
	return math.Min(low, v-d), math.Max(high, v+d)
}

// ApproxDateRange widens a date search range by 10% of its distance from
// now (at least a day) either side: the meaning of "ap" for dates.
func ApproxDateRange(low, high, now int64) (int64, int64) {
	d := now - low
	if d < 0 {
		d = -d
	}
	d /= 10
	if d < 86400e6 {
		d = 86400e6
	}
	return satSub(low, d), satAdd(high, d)
}

func satAdd(a, b int64) int64 {
	if a > MaxTime-b {
		return MaxTime
	}
	return a + b
}

func satSub(a, b int64) int64 {
	if a < MinTime+b {
		return MinTime
	}
	return a - b
}
