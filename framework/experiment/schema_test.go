package experiment_test

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
)

// Adding a training setting is one tagged field of framework.TrainConfig.
// This test walks every such field and checks the whole path: the field is
// listed by Keys (so by `sweep plugins` and the README's key table), a
// grid over its path is accepted, the value is stored in the trial's
// params, decoded into the field, seen by TrialPlan.Settings, and a value
// outside its range is refused naming the key and the line. A new field
// passes with no edit anywhere else, or this test says what is missing.
func TestEveryTrainingSettingIsSweepable(t *testing.T) {
	specs, err := framework.OptionSpecs(&framework.TrainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, k := range experiment.Keys() {
		listed[k.Name] = true
	}
	checked := 0
	for _, s := range specs {
		if s.Type == "section" {
			continue
		}
		path := "training." + s.Name
		if !listed[path] || s.Doc == "" {
			t.Errorf("%s: not listed by Keys, or without a doc tag", path)
		}
		value, bad := otherValue(t, s)
		src := strings.Replace(base, "epochs: 2}", "epochs: 3}", 1) + fmt.Sprintf("grid:\n  %s: [%s]\n", path, value)
		e, err := experiment.Parse([]byte(src), "x.yaml")
		if err != nil {
			t.Errorf("%s: grid refused: %v", path, err)
			continue
		}
		plans, err := e.Plans()
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(plans[0].Params[path]); got != value {
			t.Errorf("%s: stored as %q, want %q", path, got, value)
		}
		spec, err := e.ResolvePlan(plans[0])
		if err != nil {
			t.Errorf("%s = %s: %v", path, value, err)
			continue
		}
		want := fieldText(t, reflect.ValueOf(spec.Training), s.Name)
		if got := fieldText(t, reflect.ValueOf(plans[0].Settings().Training), s.Name); got != want || !decodedAs(want, value, s.Type) {
			t.Errorf("%s = %s: decoded %s, Settings() %s", path, value, want, got)
		}
		if bad != "" {
			e, err := experiment.Parse([]byte(src[:strings.LastIndex(src, "[")]+"["+bad+"]\n"), "x.yaml")
			if err == nil {
				ps, _ := e.Plans()
				_, err = e.ResolvePlan(ps[0])
			}
			if err == nil || !strings.Contains(err.Error(), "x.yaml:") || !strings.Contains(err.Error(), path+": must be") {
				t.Errorf("%s = %s: want an error at its key, got %v", path, bad, err)
			}
		}
		checked++
	}
	if checked < 10 {
		t.Errorf("checked only %d training settings", checked)
	}
}

// otherValue is a valid value of an option that differs from its default,
// and one outside its range ("" if every value of its type is valid).
func otherValue(t *testing.T, s framework.OptionSpec) (value, bad string) {
	t.Helper()
	switch s.Type {
	case "bool":
		return strconv.FormatBool(s.Default != "true"), ""
	case "int", "float":
		lo, hi := 1.0, 0.0
		if s.Range != "" {
			parts := strings.Split(strings.Trim(s.Range, "[]()"), ",")
			if parts[0] != "" {
				lo, _ = strconv.ParseFloat(parts[0], 64)
				bad = strconv.FormatFloat(lo-1, 'g', -1, 64)
			}
			if parts[1] != "" {
				hi, _ = strconv.ParseFloat(parts[1], 64)
				bad = strconv.FormatFloat(hi+1, 'g', -1, 64)
			}
		}
		v := lo + 2
		if hi > lo && v >= hi {
			v = (lo + hi) / 2
		}
		if s.Type == "float" {
			v += 0.25
		}
		return strconv.FormatFloat(v, 'g', -1, 64), bad
	case "string":
		if len(s.Enum) > 1 {
			return s.Enum[len(s.Enum)-1], "no_such_value"
		}
	case "plugin": // a plugin's name; its options are checked when it is built
		return "exponential", ""
	}
	t.Fatalf("%s: no test value for type %s: extend otherValue", s.Name, s.Type)
	return "", ""
}

// fieldText is the value of the field whose opt tag is name (a dotted path
// into nested sections), printed.
func fieldText(t *testing.T, v reflect.Value, name string) string {
	t.Helper()
	head, rest, nested := strings.Cut(name, ".")
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		tag := f.Tag.Get("opt")
		switch {
		case tag == head && nested:
			return fieldText(t, v.Field(i), rest)
		case tag == head:
			return fmt.Sprint(v.Field(i).Interface())
		case tag == "" && f.Anonymous:
			if s := fieldText(t, v.Field(i), name); s != "" {
				return s
			}
		}
	}
	return ""
}

// decodedAs reports whether a field printed as field holds the YAML scalar
// value: a number or word as it prints, a plugin by its name.
func decodedAs(field, value, typ string) bool {
	if typ == "plugin" {
		return strings.Contains(field, "{Type:"+value+" ") || strings.HasPrefix(field, "{"+value+" ")
	}
	if f, err := strconv.ParseFloat(value, 64); err == nil {
		return field == fmt.Sprint(f)
	}
	return field == value
}

// A schedule's own keys are placed on their full path: its interval, its
// warmup's options, and (when the trial is built) its plugin options.
func TestScheduleErrorsNameTheirKey(t *testing.T) {
	for _, c := range []struct{ schedule, want string }{
		{"{type: step, step_size: 2, interval: daily}", `x.yaml:10: training.schedule.interval: must be epoch or iteration, got a string "daily"`},
		{"{type: step, step_size: 2, warmup: {iterations: -1}}", "x.yaml:10: training.schedule.warmup.iterations: must be an integer ≥ 0, got -1"},
		{"{type: step, step_size: 2, warmup: {iteratons: 3}}", `training.schedule.warmup.iteratons: unknown option "iteratons"`},
		{"{step_size: 2}", "x.yaml:10: training.schedule: needs a type"},
	} {
		src := strings.Replace(base, "epochs: 2}", "epochs: 2, schedule: "+c.schedule+"}", 1)
		e, err := experiment.Parse([]byte(src), "x.yaml")
		if err == nil {
			ps, _ := e.Plans()
			_, err = e.ResolvePlan(ps[0])
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("schedule %s:\n got %v\nwant …%s…", c.schedule, err, c.want)
		}
	}
}

// TrainingPath names a TrainConfig field as a grid path, nested sections
// included only through their own fields.
func TestTrainingPath(t *testing.T) {
	if got := experiment.TrainingPath("LearningRate"); got != "training.learning_rate" {
		t.Errorf("LearningRate: %q", got)
	}
	if got := experiment.TrainingPath("BatchSize"); got != "training.batch_size" {
		t.Errorf("BatchSize: %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("a field without an opt tag did not panic")
		}
	}()
	experiment.TrainingPath("Seed")
}
