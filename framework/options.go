package framework

import (
	"errors"
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
// bool, string, []string, []int and []float64, and structs: a struct field
// with an opt tag is a nested section (`stop: {patience: 5}`, options
// "stop.patience"); an embedded struct without one adds its options to its
// parent's. Three more tags serve settings that are not plain values:
//
//	BatchSize  int     `opt:"batch_size" words:"full=0" range:"[1,]"` // the word full stands for 0
//	TargetLoss float64 `opt:"target_loss" given:"HasTargetLoss"`       // sets HasTargetLoss when written
//	Epochs     int     `opt:"epochs" required:"true"`                  // an error when absent

// OptionSpec documents one plugin option.
type OptionSpec struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Default  string   `json:"default"`
	Range    string   `json:"range,omitempty"`
	Enum     []string `json:"enum,omitempty"`
	Words    []string `json:"words,omitempty"` // words that stand for numbers: "full=0"
	Required bool     `json:"required,omitempty"`
	Doc      string   `json:"doc"`
}

// OptionDecoder is implemented by an option type that decodes itself from
// the value an experiment file gives it, such as a reference to a plugin
// (training.schedule). Its default tag is decoded by it too.
type OptionDecoder interface {
	DecodeOption(raw any) error
}

var optionDecoderType = reflect.TypeFor[OptionDecoder]()

// Validator is implemented by plugins that check more than ranges, e.g.
// relations between options.
type Validator interface{ Validate() error }

// optionField is one tagged field of a plugin struct, found through
// embedded structs too (Nesterov embeds Momentum, Adam embeds adamCore).
// A nested section has children and no value of its own.
type optionField struct {
	spec     OptionSpec
	value    reflect.Value
	given    reflect.Value // the bool field named by the given tag, if any
	children []optionField
}

func optionFields(v any) ([]optionField, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("plugin %T is not a pointer to a struct", v)
	}
	return structFields(rv.Elem()), nil
}

// structFields lists the tagged fields of struct s, walking embedded
// structs and descending into nested sections.
func structFields(s reflect.Value) []optionField {
	var out []optionField
	t := s.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("opt")
		if f.Anonymous && f.Type.Kind() == reflect.Struct && name == "" {
			out = append(out, structFields(s.Field(i))...)
			continue
		}
		if name == "" {
			continue
		}
		spec := OptionSpec{Name: name, Type: typeName(f.Type), Default: f.Tag.Get("default"),
			Range: f.Tag.Get("range"), Doc: f.Tag.Get("doc"), Required: f.Tag.Get("required") == "true"}
		if e := f.Tag.Get("enum"); e != "" {
			spec.Enum = strings.Split(e, ",")
		}
		if w := f.Tag.Get("words"); w != "" {
			spec.Words = strings.Split(w, ",")
		}
		of := optionField{spec: spec, value: s.Field(i)}
		if g := f.Tag.Get("given"); g != "" {
			of.given = s.FieldByName(g)
		}
		if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(optionDecoderType) {
			of.children = structFields(s.Field(i))
		}
		out = append(out, of)
	}
	return out
}

func typeName(t reflect.Type) string {
	if reflect.PointerTo(t).Implements(optionDecoderType) {
		return "plugin"
	}
	switch t.Kind() {
	case reflect.Float64, reflect.Float32:
		return "float"
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Struct:
		return "section"
	}
	return t.Kind().String()
}

// OptionSpecs lists the options of plugin v (a pointer to a struct), in
// field order; a nested section's options follow it, named
// "section.option".
func OptionSpecs(v any) ([]OptionSpec, error) {
	fields, err := optionFields(v)
	return flattenSpecs("", fields), err
}

func flattenSpecs(prefix string, fields []optionField) []OptionSpec {
	var specs []OptionSpec
	for _, f := range fields {
		s := f.spec
		s.Name = prefix + s.Name
		specs = append(specs, s)
		specs = append(specs, flattenSpecs(s.Name+".", f.children)...)
	}
	return specs
}

// DecodeOptions fills plugin v (a pointer to a struct) from its tag
// defaults, then from opts, strictly: an unknown key, a value of the wrong
// type, a value out of range or not in the enumeration is an error naming
// the option (an *OptionError; "stop.patience" in a nested section). Then
// Validate runs if v implements Validator.
func DecodeOptions(v any, opts map[string]any) error {
	fields, err := optionFields(v)
	if err != nil {
		return err
	}
	if err := decodeFields(fields, opts); err != nil {
		return err
	}
	if val, ok := v.(Validator); ok {
		return val.Validate()
	}
	return nil
}

// decodeFields sets fields from their defaults and then from opts.
func decodeFields(fields []optionField, opts map[string]any) error {
	byName := map[string]optionField{}
	known := make([]string, 0, len(fields))
	for _, f := range fields {
		byName[f.spec.Name] = f
		known = append(known, f.spec.Name)
		if f.children != nil {
			if _, given := opts[f.spec.Name]; !given {
				if err := decodeFields(f.children, nil); err != nil {
					return err
				}
			}
			continue
		}
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
				return &OptionError{Option: k, Unknown: true, Err: fmt.Errorf("unknown option %q (it takes no options)", k)}
			}
			return &OptionError{Option: k, Unknown: true, Err: UnknownNameError("option", k, known)}
		}
		if f.children != nil {
			if err := decodeSection(f, opts[k]); err != nil {
				return err
			}
			continue
		}
		if err := setOption(f.value, f.spec, opts[k], false); err != nil {
			var inner *OptionError // from an OptionDecoder: an option inside this one
			if errors.As(err, &inner) {
				return &OptionError{Option: k + "." + inner.Option, Unknown: inner.Unknown, Err: inner.Err}
			}
			return &OptionError{Option: k, Err: err}
		}
		if f.given.IsValid() {
			f.given.SetBool(true)
		}
	}
	for _, f := range fields {
		if _, given := opts[f.spec.Name]; f.spec.Required && !given {
			return &OptionError{Option: f.spec.Name, Err: ErrMissing}
		}
	}
	return nil
}

// decodeKnown decodes the options of opts that v has, leniently: unknown
// keys and values that do not decode are dropped (their fields keep the
// defaults), and missing required options stay zero.
func decodeKnown(v any, opts map[string]any) {
	fields := structFields(reflect.ValueOf(v).Elem())
	known := map[string]any{}
	for _, f := range fields {
		if raw, ok := opts[f.spec.Name]; ok {
			known[f.spec.Name] = raw
		}
	}
	for range len(known) + 1 {
		var oe *OptionError
		err := decodeFields(fields, known)
		if !errors.As(err, &oe) || errors.Is(oe.Err, ErrMissing) {
			return
		}
		delete(known, strings.Split(oe.Option, ".")[0])
	}
}

// decodeSection decodes a nested section; its errors name the option as
// "section.option".
func decodeSection(f optionField, raw any) error {
	m, ok := raw.(map[string]any)
	if !ok {
		return &OptionError{Option: f.spec.Name, Err: fmt.Errorf("must be a mapping of %s options, got %s", f.spec.Name, Describe(raw))}
	}
	err := decodeFields(f.children, m)
	var oe *OptionError
	if errors.As(err, &oe) {
		return &OptionError{Option: f.spec.Name + "." + oe.Option, Unknown: oe.Unknown, Err: oe.Err}
	}
	return err
}

// ErrMissing is an OptionError's Err when a required option is absent.
var ErrMissing = errors.New("missing: it has no default")

// OptionError is a problem with one option of a plugin (unknown, of the
// wrong type, out of range), so callers can point at the option itself.
type OptionError struct {
	Option  string // "beta1", or "stop.patience" in a nested section
	Unknown bool   // no such option: Err lists the known ones
	Err     error  // what is wrong with the value (without the option's name)
}

func (e *OptionError) Error() string {
	if e.Unknown {
		return e.Err.Error()
	}
	return fmt.Sprintf("option %q: %v", e.Option, e.Err)
}
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
	if d, ok := f.Addr().Interface().(OptionDecoder); ok {
		return d.DecodeOption(raw)
	}
	if str, isStr := raw.(string); isStr {
		for _, w := range s.Words {
			if word, num, _ := strings.Cut(w, "="); word == str {
				x, _ := strconv.ParseFloat(num, 64)
				f.Set(reflect.ValueOf(x).Convert(f.Type()))
				return nil
			}
		}
		switch k := f.Kind(); {
		case fromTag || k == reflect.String || k == reflect.Slice:
		case k == reflect.Bool:
			return fmt.Errorf("must be true or false, got %s (write it without quotes)", Describe(str))
		default:
			return fmt.Errorf("must be %s, got %s (write a number without quotes)", expected(k, s), Describe(str))
		}
	}
	switch f.Kind() {
	case reflect.Slice:
		return setList(f, s, raw, fromTag)
	case reflect.Float64, reflect.Float32, reflect.Int:
		x, err := toFloat(raw)
		isInt := f.Kind() == reflect.Int
		if err != nil || (isInt && (x != math.Trunc(x) || math.Abs(x) > 1<<53)) || checkRange(x, s.Range) != nil {
			return fmt.Errorf("must be %s, got %s", expected(f.Kind(), s), Describe(raw))
		}
		if isInt {
			f.SetInt(int64(x))
		} else {
			f.SetFloat(x)
		}
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

// expected says in words what an option of kind k with spec s holds: "a
// number > 0", "an integer from 1 to 1000 or \"full\"".
func expected(k reflect.Kind, s OptionSpec) string {
	what := "a number"
	if k == reflect.Int {
		what = "an integer"
	}
	if r := rangeWords(s.Range); r != "" {
		what += " " + r
	}
	if len(s.Words) > 0 {
		what += " or " + wordList(s.Words)
	}
	return what
}

// rangeWords writes an interval as words: "[1,10]" is "from 1 to 10",
// "(0,]" is "> 0", "[0,1)" is "in [0, 1)".
func rangeWords(r string) string {
	lo, hi, loIncl, hiIncl, err := parseRange(r)
	if err != nil || (lo == nil && hi == nil) {
		return ""
	}
	num := func(x *float64) string { return strconv.FormatFloat(*x, 'f', -1, 64) }
	switch {
	case lo != nil && hi != nil && loIncl && hiIncl:
		return "from " + num(lo) + " to " + num(hi)
	case lo != nil && hi != nil:
		return fmt.Sprintf("in %c%s, %s%c", r[0], num(lo), num(hi), r[len(r)-1])
	case lo != nil && loIncl:
		return "≥ " + num(lo)
	case lo != nil:
		return "> " + num(lo)
	case hiIncl:
		return "≤ " + num(hi)
	}
	return "< " + num(hi)
}

// wordList writes words such as ["full=0"] as `"full"`.
func wordList(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		word, _, _ := strings.Cut(w, "=")
		out[i] = strconv.Quote(word)
	}
	return strings.Join(out, " or ")
}

// setList sets a list option from a list of values (or, in a default tag,
// from comma-separated text), each checked like a single option.
func setList(f reflect.Value, s OptionSpec, raw any, fromTag bool) error {
	var items []any
	switch x := raw.(type) {
	case []any:
		items = x
	case string:
		if !fromTag {
			return fmt.Errorf("must be a list, got %s", Describe(x))
		}
		for _, p := range strings.Split(x, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
	default:
		return fmt.Errorf("must be a list, got %s", Describe(raw))
	}
	list := reflect.MakeSlice(f.Type(), len(items), len(items))
	for i, it := range items {
		if err := setOption(list.Index(i), s, it, fromTag); err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
	}
	f.Set(list)
	return nil
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
