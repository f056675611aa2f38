package framework

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Plugin options are the exported fields of a plugin struct that carry an
// `opt` tag. The tags are the single source of a plugin's documentation,
// defaults and checks:
//
//	Beta1 float64 `opt:"beta1" default:"0.9" range:"[0,1)" doc:"decay of the first moment"`
//	Init  string  `opt:"init" default:"uniform" enum:"zeros,uniform,xavier" doc:"..."`
//
// range is an interval with inclusive ([ ]) or exclusive (( )) ends; an
// empty end is unbounded ("(0,]" means > 0). Field types are float64, int,
// bool and string.

// OptionSpec documents one plugin option.
type OptionSpec struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Default string   `json:"default"`
	Range   string   `json:"range,omitempty"`
	Enum    []string `json:"enum,omitempty"`
	Doc     string   `json:"doc"`
}

// Validator is implemented by plugins that check more than ranges, e.g.
// relations between options.
type Validator interface{ Validate() error }

// optionField is one tagged field of a plugin struct, found through
// embedded structs too (Nesterov embeds Momentum, Adam embeds adamCore).
type optionField struct {
	spec  OptionSpec
	value reflect.Value
}

func optionFields(v any) ([]optionField, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("plugin %T is not a pointer to a struct", v)
	}
	var out []optionField
	var walk func(s reflect.Value)
	walk = func(s reflect.Value) {
		t := s.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(s.Field(i))
				continue
			}
			name := f.Tag.Get("opt")
			if name == "" {
				continue
			}
			spec := OptionSpec{Name: name, Type: f.Type.Kind().String(), Default: f.Tag.Get("default"),
				Range: f.Tag.Get("range"), Doc: f.Tag.Get("doc")}
			if e := f.Tag.Get("enum"); e != "" {
				spec.Enum = strings.Split(e, ",")
			}
			if spec.Type == "float64" || spec.Type == "float32" {
				spec.Type = "float"
			}
			out = append(out, optionField{spec, s.Field(i)})
		}
	}
	walk(rv.Elem())
	return out, nil
}

// OptionSpecs lists the options of plugin v (a pointer to a struct), in
// field order.
func OptionSpecs(v any) ([]OptionSpec, error) {
	fields, err := optionFields(v)
	specs := make([]OptionSpec, len(fields))
	for i, f := range fields {
		specs[i] = f.spec
	}
	return specs, err
}

// DecodeOptions fills plugin v (a pointer to a struct) from its tag
// defaults, then from opts, strictly: an unknown key, a value of the wrong
// type, a value out of range or not in the enumeration is an error naming
// the option. Then Validate runs if v implements Validator.
func DecodeOptions(v any, opts map[string]any) error {
	fields, err := optionFields(v)
	if err != nil {
		return err
	}
	byName := map[string]optionField{}
	known := make([]string, 0, len(fields))
	for _, f := range fields {
		byName[f.spec.Name] = f
		known = append(known, f.spec.Name)
		if f.spec.Default == "" {
			continue
		}
		if err := setOption(f.value, f.spec, f.spec.Default, true); err != nil {
			return fmt.Errorf("default of option %q: %w", f.spec.Name, err)
		}
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := byName[k]
		if !ok {
			if len(known) == 0 {
				return &OptionError{Option: k, Err: fmt.Errorf("unknown option %q (it takes no options)", k)}
			}
			return &OptionError{Option: k, Err: UnknownNameError("option", k, known)}
		}
		if err := setOption(f.value, f.spec, opts[k], false); err != nil {
			return &OptionError{Option: k, Err: fmt.Errorf("option %q: %w", k, err)}
		}
	}
	if val, ok := v.(Validator); ok {
		return val.Validate()
	}
	return nil
}

// OptionError is a problem with one option of a plugin (unknown, of the
// wrong type, out of range), so callers can point at the option itself.
type OptionError struct {
	Option string
	Err    error
}

func (e *OptionError) Error() string { return e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

// Describe writes a value as a user wrote it, with its type when the type
// is the likely mistake: a string "2", a list, a mapping, nothing.
func Describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing"
	case string:
		return "a string " + strconv.Quote(x)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	if k := reflect.ValueOf(v).Kind(); k == reflect.Slice || k == reflect.Array {
		return "a list"
	} else if k == reflect.Map || k == reflect.Struct {
		return "a mapping"
	}
	return fmt.Sprint(v)
}

// setOption sets one option from raw, a value of the experiment file or,
// with fromTag, the text of a default tag: only tags may spell numbers and
// booleans as strings.
func setOption(f reflect.Value, s OptionSpec, raw any, fromTag bool) error {
	if str, isStr := raw.(string); isStr && !fromTag && f.Kind() != reflect.String {
		return fmt.Errorf("got %s; write the value without quotes", Describe(str))
	}
	switch f.Kind() {
	case reflect.Float64, reflect.Float32:
		x, err := toFloat(raw)
		if err != nil {
			return err
		}
		if err := checkRange(x, s.Range); err != nil {
			return err
		}
		f.SetFloat(x)
	case reflect.Int:
		x, err := toFloat(raw)
		if err != nil {
			return err
		}
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return fmt.Errorf("%v is not a whole number", raw)
		}
		if err := checkRange(x, s.Range); err != nil {
			return err
		}
		f.SetInt(int64(x))
	case reflect.Bool:
		switch b := raw.(type) {
		case bool:
			f.SetBool(b)
		case string:
			pb, err := strconv.ParseBool(b)
			if err != nil {
				return fmt.Errorf("%q is not true or false", b)
			}
			f.SetBool(pb)
		default:
			return fmt.Errorf("must be true or false, got %s", Describe(raw))
		}
	case reflect.String:
		str, ok := raw.(string)
		if !ok {
			return fmt.Errorf("must be a string, got %s", Describe(raw))
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
			return UnknownNameError("value", str, s.Enum)
		}
		f.SetString(str)
	default:
		return fmt.Errorf("unsupported option type %s", f.Kind())
	}
	return nil
}

func toFloat(raw any) (float64, error) {
	var x float64
	switch v := raw.(type) {
	case float64:
		x = v
	case float32:
		x = float64(v)
	case int:
		x = float64(v)
	case int64:
		x = float64(v)
	case uint64:
		x = float64(v)
	case string:
		p, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", v)
		}
		x = p
	default:
		return 0, fmt.Errorf("must be a number, got %s", Describe(raw))
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("%v is not a finite number", x)
	}
	return x, nil
}

// checkRange checks x against an interval such as "[0,1)", "(0,]" or "".
func checkRange(x float64, r string) error {
	if r == "" {
		return nil
	}
	lo, hi, loIncl, hiIncl, err := parseRange(r)
	if err != nil {
		return err
	}
	if (lo != nil && (x < *lo || (!loIncl && x == *lo))) || (hi != nil && (x > *hi || (!hiIncl && x == *hi))) {
		return fmt.Errorf("%v is out of range %s", x, r)
	}
	return nil
}

func parseRange(r string) (lo, hi *float64, loIncl, hiIncl bool, err error) {
	if len(r) < 3 || !strings.Contains(r, ",") {
		return nil, nil, false, false, fmt.Errorf("bad range %q", r)
	}
	loIncl, hiIncl = r[0] == '[', r[len(r)-1] == ']'
	parts := strings.SplitN(r[1:len(r)-1], ",", 2)
	parse := func(s string) (*float64, error) {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, nil
		}
		v, err := strconv.ParseFloat(s, 64)
		return &v, err
	}
	if lo, err = parse(parts[0]); err != nil {
		return
	}
	hi, err = parse(parts[1])
	return
}
