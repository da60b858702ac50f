package fhirpath

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Quantity is a computed System.Quantity: a decimal value with a UCUM unit
// code or a calendar duration keyword (year, month, week, day, hour, ...).
type Quantity struct {
	Value float64
	Unit  string
	// text is the value as written (keeping trailing zeros), when known.
	text string
}

// String renders the quantity as a FHIRPath literal: 1.50 'mg', 3 days.
func (q Quantity) String() string {
	u := q.Unit
	if calendarUnits[u] == "" {
		u = "'" + u + "'"
	}
	v := formatDecimal(q.Value)
	if q.text != "" {
		if f, err := strconv.ParseFloat(q.text, 64); err == nil && f == q.Value {
			v = q.text
		}
	}
	return v + " " + u
}

// calendarUnits maps the FHIRPath calendar duration keywords to their UCUM
// code (year/month map to the calendar units a and mo).
var calendarUnits = map[string]string{
	"year": "a", "years": "a", "month": "mo", "months": "mo", "week": "wk", "weeks": "wk",
	"day": "d", "days": "d", "hour": "h", "hours": "h", "minute": "min", "minutes": "min",
	"second": "s", "seconds": "s", "millisecond": "ms", "milliseconds": "ms",
}

// Precision of a Temporal, from the coarsest.
const (
	precYear uint8 = iota + 1
	precMonth
	precDay
	precHour
	precMinute
	precSecond
	precMilli
)

// Temporal kinds.
const (
	KindDate uint8 = iota + 1
	KindDateTime
	KindTime
)

// Temporal is a computed System.Date, System.DateTime or System.Time with
// the precision it was written with, which comparisons must respect.
type Temporal struct {
	Kind  uint8
	T     time.Time // for times, on 0000-01-01
	Prec  uint8
	HasTZ bool
}

func (t Temporal) systemType() string {
	switch t.Kind {
	case KindDate:
		return "System.Date"
	case KindTime:
		return "System.Time"
	}
	return "System.DateTime"
}

// String renders the value as FHIR writes it (without the @ of literals).
func (t Temporal) String() string {
	var layout string
	switch t.Kind {
	case KindTime:
		layout = [...]string{"", "", "", "", "15", "15:04", "15:04:05", "15:04:05.000"}[t.Prec]
		return t.T.Format(layout)
	default:
		layout = [...]string{"", "2006", "2006-01", "2006-01-02", "2006-01-02T15", "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02T15:04:05.000"}[t.Prec]
	}
	s := t.T.Format(layout)
	if t.Kind == KindDateTime && t.Prec >= precHour && t.HasTZ {
		if _, off := t.T.Zone(); off == 0 {
			s += "Z"
		} else {
			s += t.T.Format("-07:00")
		}
	}
	return s
}

// parseTemporal parses a FHIR/FHIRPath date, dateTime or time ("T10:00"
// for times when literal is set, as after @).
func parseTemporal(s string, literal bool) (Temporal, error) {
	var r Temporal
	if strings.HasPrefix(s, "T") {
		if !literal {
			return r, fmt.Errorf("bad time")
		}
		return parseTime(s[1:])
	}
	if len(s) < 4 {
		return r, fmt.Errorf("bad date")
	}
	date, rest, hasT := strings.Cut(s, "T")
	r.Kind = KindDate
	var y, mo, d = 0, 1, 1
	var err error
	parts := strings.Split(date, "-")
	if len(parts) > 3 || len(parts[0]) != 4 {
		return r, fmt.Errorf("bad date")
	}
	if y, err = strconv.Atoi(parts[0]); err != nil {
		return r, err
	}
	r.Prec = precYear
	if len(parts) > 1 {
		if len(parts[1]) != 2 {
			return r, fmt.Errorf("bad month")
		}
		if mo, err = strconv.Atoi(parts[1]); err != nil || mo < 1 || mo > 12 {
			return r, fmt.Errorf("bad month")
		}
		r.Prec = precMonth
	}
	if len(parts) > 2 {
		if len(parts[2]) != 2 {
			return r, fmt.Errorf("bad day")
		}
		if d, err = strconv.Atoi(parts[2]); err != nil || d < 1 || d > 31 {
			return r, fmt.Errorf("bad day")
		}
		r.Prec = precDay
	}
	loc := time.UTC
	h, mi, sec, ns := 0, 0, 0, 0
	if hasT {
		r.Kind = KindDateTime
		if rest != "" {
			tz := ""
			if i := strings.IndexAny(rest, "Z+-"); i >= 0 {
				rest, tz = rest[:i], rest[i:]
			}
			if rest != "" {
				tt, err := parseTime(rest)
				if err != nil {
					return r, err
				}
				h, mi, sec, ns = tt.T.Hour(), tt.T.Minute(), tt.T.Second(), tt.T.Nanosecond()
				r.Prec = tt.Prec
			} else if tz != "" {
				return r, fmt.Errorf("zone without time")
			}
			if tz != "" {
				r.HasTZ = true
				if tz != "Z" {
					zt, err := time.Parse("-07:00", tz)
					if err != nil {
						return r, fmt.Errorf("bad zone")
					}
					_, off := zt.Zone()
					loc = time.FixedZone("", off)
				}
			}
		}
	}
	r.T = time.Date(y, time.Month(mo), d, h, mi, sec, ns, loc)
	if r.T.Day() != d {
		return r, fmt.Errorf("bad day")
	}
	return r, nil
}

func parseTime(s string) (Temporal, error) {
	r := Temporal{Kind: KindTime}
	parts := strings.Split(s, ":")
	if len(parts) > 3 || len(parts[0]) != 2 {
		return r, fmt.Errorf("bad time")
	}
	vals := [3]int{}
	var ns int
	for i, p := range parts {
		if i == 2 {
			sec, frac, hasFrac := strings.Cut(p, ".")
			p = sec
			if hasFrac {
				if frac == "" {
					return r, fmt.Errorf("bad time")
				}
				f, err := strconv.ParseFloat("0."+frac, 64)
				if err != nil {
					return r, err
				}
				ns = int(math.Round(f*1000)) * 1e6
				r.Prec = precMilli
			}
		}
		if len(p) != 2 {
			return r, fmt.Errorf("bad time")
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return r, err
		}
		vals[i] = n
		if r.Prec < precMilli {
			r.Prec = precHour + uint8(i)
		}
	}
	if vals[0] > 23 || vals[1] > 59 || vals[2] > 59 {
		return r, fmt.Errorf("bad time")
	}
	r.T = time.Date(0, 1, 1, vals[0], vals[1], vals[2], ns, time.UTC)
	return r, nil
}

// compareTemporal compares a and b at their common precision. ok is false
// when the result is unknown (different precisions that agree so far, or
// different kinds).
func compareTemporal(a, b Temporal) (c int, ok bool) {
	if (a.Kind == KindTime) != (b.Kind == KindTime) {
		return 0, false
	}
	ta, tb := a.T, b.T
	if a.HasTZ && b.HasTZ {
		ta, tb = ta.UTC(), tb.UTC()
	}
	pa, pb := a.Prec, b.Prec
	if pa == precMilli {
		pa = precSecond
	}
	if pb == precMilli {
		pb = precSecond
	}
	p := min(pa, pb)
	if a.Kind == KindDateTime && b.Kind == KindDateTime && p >= precHour && a.HasTZ != b.HasTZ {
		return 0, false // one local, one with a zone: unknown
	}
	fields := func(t time.Time) [6]int {
		return [6]int{t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second()*1e9 + t.Nanosecond()}
	}
	fa, fb := fields(ta), fields(tb)
	start := 0
	if a.Kind == KindTime {
		start = 3
	}
	for i := start; i < int(p); i++ {
		if fa[i] != fb[i] {
			if fa[i] < fb[i] {
				return -1, true
			}
			return 1, true
		}
	}
	if pa != pb {
		return 0, false
	}
	return 0, true
}

// addQuantity adds q (a time duration) to t, as FHIRPath date arithmetic.
func addQuantity(t Temporal, q Quantity, sign float64) (Temporal, error) {
	unit := q.Unit
	if c, ok := calendarUnits[unit]; ok {
		unit = c
	} else if unit == "a" || unit == "mo" {
		return t, fmt.Errorf("cannot add the UCUM duration %s to a date: use a calendar duration", q)
	}
	v := q.Value * sign
	switch unit {
	case "a", "mo":
		n := int(v)
		if unit == "a" {
			t.T = t.T.AddDate(n, 0, 0)
		} else {
			t.T = t.T.AddDate(0, n, 0)
		}
		return t, nil
	case "wk":
		t.T = t.T.AddDate(0, 0, 7*int(v))
		return t, nil
	case "d":
		t.T = t.T.AddDate(0, 0, int(v))
		return t, nil
	case "h", "min", "s", "ms":
		if t.Kind == KindDate {
			return t, fmt.Errorf("cannot add %s to a date", q)
		}
		mult := map[string]float64{"h": 3600e9, "min": 60e9, "s": 1e9, "ms": 1e6}[unit]
		if unit == "s" {
			v = math.Trunc(v) // the decimal part of seconds is ignored
		}
		t.T = t.T.Add(time.Duration(v * mult))
		return t, nil
	}
	return t, fmt.Errorf("cannot add %s to a date/time", q)
}

// toFloat converts integers and decimals to float64.
func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	return 0
}

func formatDecimal(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	return s
}

// ucumFactors converts a few common UCUM units to a base unit so that
// quantities in different units compare (mass, length, volume, time).
var ucumFactors = map[string]struct {
	base string
	f    float64
}{
	"g": {"g", 1}, "kg": {"g", 1000}, "mg": {"g", 1e-3}, "ug": {"g", 1e-6}, "ng": {"g", 1e-9}, "[lb_av]": {"g", 453.59237}, "[oz_av]": {"g", 28.349523125},
	"m": {"m", 1}, "km": {"m", 1000}, "cm": {"m", 0.01}, "mm": {"m", 1e-3}, "um": {"m", 1e-6}, "[in_i]": {"m", 0.0254}, "[ft_i]": {"m", 0.3048},
	"l": {"l", 1}, "L": {"l", 1}, "dl": {"l", 0.1}, "dL": {"l", 0.1}, "ml": {"l", 1e-3}, "mL": {"l", 1e-3}, "ul": {"l", 1e-6}, "uL": {"l", 1e-6},
	"s": {"s", 1}, "ms": {"s", 1e-3}, "min": {"s", 60}, "h": {"s", 3600}, "d": {"s", 86400}, "wk": {"s", 604800},
	"Cel": {"Cel", 1}, "1": {"1", 1}, "%": {"1", 0.01},
}

// normQuantity returns q in its base unit when known. Calendar words map
// to their UCUM units only for definite durations (week and below).
func normQuantity(q Quantity) (Quantity, bool) {
	u := q.Unit
	if c, ok := calendarUnits[u]; ok {
		if c == "a" || c == "mo" {
			// Calendar years and months are not the UCUM a and mo.
			return Quantity{Value: q.Value, Unit: "cal:" + c}, true
		}
		u = c
	}
	if f, ok := ucumFactors[u]; ok {
		return Quantity{Value: q.Value * f.f, Unit: f.base}, true
	}
	return Quantity{Value: q.Value, Unit: u}, false
}
