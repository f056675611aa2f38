package sqlite

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Non-finite floats. SQLite stores a NaN bound as REAL as NULL, so every
// REAL column that may hold a non-finite value has a TEXT companion: the
// REAL is NULL and the companion holds one of these spellings.
const (
	nfNaN    = "NaN"
	nfPosInf = "+Inf"
	nfNegInf = "-Inf"
)

// realOrNull splits f into the REAL column value and its companion:
// (f, NULL) when finite, (NULL, "NaN"/"+Inf"/"-Inf") otherwise.
func realOrNull(f float64) (any, any) {
	switch {
	case math.IsNaN(f):
		return nil, nfNaN
	case math.IsInf(f, 1):
		return nil, nfPosInf
	case math.IsInf(f, -1):
		return nil, nfNegInf
	}
	return f, nil
}

// absentOrReal is realOrNull, except that a NaN meaning "does not apply"
// (applies=false) is stored as NULL in both columns.
func absentOrReal(f float64, applies bool) (any, any) {
	if math.IsNaN(f) && !applies {
		return nil, nil
	}
	return realOrNull(f)
}

// fromReal is the inverse of realOrNull: a NULL REAL with a NULL companion
// (absent, "does not apply") reads as NaN.
func fromReal(v sql.NullFloat64, nf sql.NullString) (float64, error) {
	if v.Valid {
		return v.Float64, nil
	}
	if !nf.Valid {
		return math.NaN(), nil
	}
	return fromNonfinite(nf.String)
}

// fromNonfinite reads the spelling of a non-finite value.
func fromNonfinite(s string) (float64, error) {
	switch s {
	case nfNaN:
		return math.NaN(), nil
	case nfPosInf:
		return math.Inf(1), nil
	case nfNegInf:
		return math.Inf(-1), nil
	}
	return 0, fmt.Errorf("unknown non-finite spelling %q", s)
}

// timeLayout stores times as fixed-width UTC text, so they sort as text
// and read back to the nanosecond.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func timeText(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad timestamp %q: %w", s.String, err)
	}
	return t.UTC(), nil
}

func seedText(seed uint64) string { return strconv.FormatUint(seed, 10) }

func parseSeed(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad seed %q: %w", s, err)
	}
	return v, nil
}

// encodeParams writes a trial's params as a JSON object with sorted keys.
// Floats always carry a '.' or an exponent ("1.0", not "1"), so that
// decodeParams gives back float64 for floats and int for integers.
// Non-finite floats cannot be written as JSON and are an error.
func encodeParams(p map[string]any) (string, error) {
	if p == nil {
		return "{}", nil
	}
	v, err := jsonValue(p, "")
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("params: %w", err)
	}
	return string(b), nil
}

func jsonFloat(f float64, key string) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("params: %s is %v, which JSON cannot hold", key, f)
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return json.Number(s), nil
}

func jsonValue(v any, key string) (any, error) {
	switch x := v.(type) {
	case float64:
		return jsonFloat(x, key)
	case float32:
		return jsonFloat(float64(x), key)
	case []float64:
		out := make([]any, len(x))
		for i, f := range x {
			var err error
			if out[i], err = jsonFloat(f, fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = jsonValue(e, fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			sub := k
			if key != "" {
				sub = key + "." + k
			}
			var err error
			if out[k], err = jsonValue(e, sub); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

// decodeParams reads what encodeParams wrote: JSON numbers without '.' or
// exponent that fit an int become int, other numbers float64, objects
// map[string]any, arrays []any.
func decodeParams(s string) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("bad params JSON: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	for k, v := range m {
		m[k] = fromJSON(v)
	}
	return m, nil
}

func fromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 0); err == nil {
				return int(i)
			}
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f
	case []any:
		for i := range x {
			x[i] = fromJSON(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = fromJSON(x[k])
		}
	}
	return v
}

func encodeVaried(v []string) (string, error) {
	if v == nil {
		v = []string{}
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func decodeVaried(s string) ([]string, error) {
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("bad varied JSON: %w", err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// someNames formats up to max names for an error message.
func someNames(names []string, max int) string {
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s, … (%d in all)", strings.Join(names[:max], ", "), len(names))
}
