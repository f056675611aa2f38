package framework_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

type testPlugin struct {
	Rate  float64 `opt:"rate" default:"0.5" range:"(0,1]" doc:"a rate"`
	Count int     `opt:"count" default:"3" range:"[1,10]" doc:"a count"`
	Mode  string  `opt:"mode" default:"fast" enum:"fast,slow" doc:"a mode"`
	On    bool    `opt:"on" default:"true" doc:"a switch"`
}

func newTest() *testPlugin { return &testPlugin{} }

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestRegistryContract(t *testing.T) {
	r := framework.NewRegistry[*testPlugin]("widget")
	r.Register(framework.Plugin[*testPlugin]{Name: "alpha_one", New: newTest})
	r.Register(framework.Plugin[*testPlugin]{Name: "beta", New: newTest})
	mustPanic(t, "empty name", func() { r.Register(framework.Plugin[*testPlugin]{Name: "", New: newTest}) })
	mustPanic(t, "duplicate", func() { r.Register(framework.Plugin[*testPlugin]{Name: "beta", New: newTest}) })
	mustPanic(t, "nil factory", func() { r.Register(framework.Plugin[*testPlugin]{Name: "gamma"}) })
	mustPanic(t, "not snake_case", func() { r.Register(framework.Plugin[*testPlugin]{Name: "Gamma-Ray", New: newTest}) })
	if got := strings.Join(r.Names(), ","); got != "alpha_one,beta" {
		t.Errorf("names %s", got)
	}
	_, err := r.New("bta", nil)
	if err == nil || !strings.Contains(err.Error(), `unknown widget "bta" (known: alpha_one, beta); did you mean "beta"?`) {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := r.New("zzzzzzzz", nil); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("far name should not suggest: %v", err)
	}
	// a fresh registry shares nothing
	if n := framework.NewRegistry[*testPlugin]("widget").Names(); len(n) != 0 {
		t.Errorf("fresh registry has %v", n)
	}
}

func TestDecodeOptions(t *testing.T) {
	r := framework.NewRegistry[*testPlugin]("widget")
	r.Register(framework.Plugin[*testPlugin]{Name: "w", New: newTest})
	p, err := r.New("w", nil)
	if err != nil || p.Rate != 0.5 || p.Count != 3 || p.Mode != "fast" || !p.On {
		t.Fatalf("defaults: %+v %v", p, err)
	}
	p, err = r.New("w", map[string]any{"rate": 1, "count": 10.0, "mode": "slow", "on": false})
	if err != nil || p.Rate != 1 || p.Count != 10 || p.Mode != "slow" || p.On {
		t.Fatalf("set: %+v %v", p, err)
	}
	for _, c := range []struct {
		opts map[string]any
		want string
	}{
		{map[string]any{"rate": 0}, `option "rate": must be a number in (0, 1], got 0`},
		{map[string]any{"rate": "x"}, `option "rate": must be a number in (0, 1], got a string "x" (write a number without quotes)`},
		{map[string]any{"rate": "0.5"}, `got a string "0.5" (write a number without quotes)`},
		{map[string]any{"on": "true"}, `option "on": must be true or false, got a string "true" (write it without quotes)`},
		{map[string]any{"count": []any{4}}, `option "count": must be an integer from 1 to 10, got a list`},
		{map[string]any{"mode": map[string]any{"a": 1}}, `option "mode": must be a string, got a mapping`},
		{map[string]any{"count": 2.5}, "must be an integer from 1 to 10, got 2.5"},
		{map[string]any{"count": 11}, "must be an integer from 1 to 10, got 11"},
		{map[string]any{"mode": "medium"}, `unknown value "medium"`},
		{map[string]any{"on": 3}, "must be true or false, got 3"},
		{map[string]any{"rte": 0.1}, `unknown option "rte"`},
	} {
		_, err := r.New("w", c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want …%s…", c.opts, err, c.want)
		}
		// the error names the option, so that callers can point at its line
		var oe *framework.OptionError
		if !errors.As(err, &oe) || c.opts[oe.Option] == nil {
			t.Errorf("%v: %v does not name the option", c.opts, err)
		}
	}
	specs, _ := r.Options("w")
	if len(specs) != 4 || specs[0].Name != "rate" || specs[0].Range != "(0,1]" || specs[2].Enum[1] != "slow" {
		t.Errorf("specs %+v", specs)
	}
}

// Every built-in plugin documents its options: a doc line each, and its
// defaults decode.
func TestBuiltinPluginsDocumented(t *testing.T) {
	check := func(kind string, names []string, opts func(string) ([]framework.OptionSpec, error), doc func(string) string) {
		for _, n := range names {
			if doc(n) == "" {
				t.Errorf("%s %s has no doc", kind, n)
			}
			specs, err := opts(n)
			if err != nil {
				t.Errorf("%s %s: %v", kind, n, err)
			}
			for _, s := range specs {
				if s.Doc == "" {
					t.Errorf("%s %s option %s has no doc", kind, n, s.Name)
				}
			}
		}
	}
	reg := framework.Default()
	check("layer", reg.Layers.Names(), reg.Layers.Options, func(n string) string { p, _ := reg.Layers.Lookup(n); return p.Doc })
	check("loss", reg.Losses.Names(), reg.Losses.Options, func(n string) string { p, _ := reg.Losses.Lookup(n); return p.Doc })
	check("optimizer", reg.Optimizers.Names(), reg.Optimizers.Options, func(n string) string { p, _ := reg.Optimizers.Lookup(n); return p.Doc })
	check("schedule", reg.Schedules.Names(), reg.Schedules.Options, func(n string) string { p, _ := reg.Schedules.Lookup(n); return p.Doc })
	fn := framework.Functions
	check("function", fn.Names(), fn.Options, func(n string) string { p, _ := fn.Lookup(n); return p.Doc })
	if len(fn.Names()) != 6 {
		t.Errorf("test functions: %v", fn.Names())
	}
	if len(reg.Layers.Names()) != 8 || len(reg.Losses.Names()) != 7 || len(reg.Optimizers.Names()) != 9 || len(reg.Schedules.Names()) != 8 {
		t.Errorf("built-ins: %v %v %v %v", reg.Layers.Names(), reg.Losses.Names(), reg.Optimizers.Names(), reg.Schedules.Names())
	}
}
