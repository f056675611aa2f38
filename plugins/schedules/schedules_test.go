package schedules_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/plugins/schedules"
)

func fresh() *framework.Registry[framework.Schedule] {
	r := framework.NewRegistry[framework.Schedule]("schedule")
	schedules.Register(r)
	return r
}

type goldenCase struct {
	Schedule string         `json:"schedule"`
	Options  map[string]any `json:"options"`
	Base     float64        `json:"base"`
	Warmup   *struct {
		Iterations  int     `json:"iterations"`
		StartFactor float64 `json:"start_factor"`
	} `json:"warmup"`
	Monitored []float64 `json:"monitored"`
	LR        []float64 `json:"lr"`
}

func (c goldenCase) String() string {
	s := fmt.Sprintf("%s %v base %v", c.Schedule, c.Options, c.Base)
	if c.Warmup != nil {
		s += fmt.Sprintf(" warmup %+v", *c.Warmup)
	}
	return s
}

func loadGolden(t *testing.T) (string, []goldenCase) {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Torch string       `json:"torch"`
		Steps int          `json:"steps"`
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if g.Steps != 1000 || len(g.Cases) == 0 {
		t.Fatalf("golden file: %d steps, %d cases", g.Steps, len(g.Cases))
	}
	return g.Torch, g.Cases
}

// build makes the schedule of a golden case, behind its warmup if any.
func build(t *testing.T, r *framework.Registry[framework.Schedule], c goldenCase) framework.Schedule {
	t.Helper()
	s, err := r.New(c.Schedule, c.Options)
	if err != nil {
		t.Fatalf("%v: %v", c, err)
	}
	if c.Warmup != nil {
		w := framework.Warmup{Iterations: c.Warmup.Iterations, StartFactor: c.Warmup.StartFactor}
		if s, err = w.Wrap(s); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
	}
	return s
}

// monitored is the value a case feeds to Step k.
func (c goldenCase) monitored(k int) float64 {
	if c.Monitored == nil {
		return 0
	}
	return c.Monitored[k]
}

// maxRelErr is the largest relative difference from PyTorch that
// TestAgainstPyTorch accepts. The plugins do PyTorch's float64 operations
// in PyTorch's order, so most rates are bit-identical. What is left comes
// from Go's math.Cos against the C library's cos (an ulp apart at times),
// which cos(π·p) + 1 magnifies near the end of a cosine anneal, where it
// nearly cancels: up to about 1e-11, far inside the 1e-7 asked for.
const maxRelErr = 1e-10

// Every schedule and option setting of testdata/golden.json (written by
// gen_golden.py with Debian's PyTorch) gives PyTorch's learning rate at
// each of 1,000 updates.
func TestAgainstPyTorch(t *testing.T) {
	version, cases := loadGolden(t)
	r := fresh()
	exact, total, worst := 0, 0, 0.0
	for _, c := range cases {
		s := build(t, r, c)
		s.Start(c.Base, len(c.LR))
		bad := 0
		for k, want := range c.LR {
			got := s.Rate()
			total++
			if got == want {
				exact++
			}
			rel := math.Abs(got-want) / math.Abs(want)
			if want == 0 {
				rel = math.Abs(got)
			}
			worst = max(worst, rel)
			if !(rel <= maxRelErr) {
				if bad++; bad <= 3 {
					t.Errorf("%v: update %d: rate %.17g, PyTorch %.17g (relative difference %.3g)", c, k, got, want, rel)
				}
			}
			s.Step(c.monitored(k))
		}
	}
	t.Logf("torch %s: %d cases, %d rates, %d bit-identical, worst relative difference %.3g", version, len(cases), total, exact, worst)
}

// The golden file covers every registered schedule, and every one of them
// behind a warmup.
func TestGoldenCoversEverySchedule(t *testing.T) {
	_, cases := loadGolden(t)
	plain, warmed := map[string]bool{}, map[string]bool{}
	for _, c := range cases {
		if c.Warmup != nil {
			warmed[c.Schedule] = true
		} else {
			plain[c.Schedule] = true
		}
	}
	for _, n := range fresh().Names() {
		if !plain[n] || !warmed[n] {
			t.Errorf("schedule %s has no golden values (alone %v, after a warmup %v): add it to gen_golden.py", n, plain[n], warmed[n])
		}
	}
}

// Start (again), Rate and Step allocate nothing, whatever the schedule and
// through a warmup's milestone: they run inside the training step.
func TestSchedulesAllocateNothing(t *testing.T) {
	_, cases := loadGolden(t)
	r := fresh()
	for _, c := range cases {
		s := build(t, r, c)
		s.Start(c.Base, len(c.LR))
		sum := 0.0
		allocs := testing.AllocsPerRun(3, func() {
			s.Start(c.Base, len(c.LR))
			for k := range c.LR {
				sum += s.Rate()
				s.Step(c.monitored(k))
			}
		})
		if allocs != 0 {
			t.Errorf("%v: %v allocations per trial", c, allocs)
		}
	}
}

// onecycle steps per iteration by default, the others per epoch, as in
// PyTorch's usual loops.
func TestDefaultIntervals(t *testing.T) {
	r := fresh()
	for _, n := range r.Names() {
		p, _ := r.Lookup(n)
		want := framework.IntervalEpoch
		if n == "onecycle" {
			want = framework.IntervalIteration
		}
		if got := p.New().DefaultInterval(); got != want {
			t.Errorf("%s: default interval %q, want %q", n, got, want)
		}
	}
	w, _ := framework.Warmup{Iterations: 3, StartFactor: 0.5}.Wrap(&schedules.OneCycle{MaxLR: 1})
	if w.DefaultInterval() != framework.IntervalIteration {
		t.Errorf("a warmup changed onecycle's interval to %q", w.DefaultInterval())
	}
}

// Options a user can get wrong are refused with a message that names them.
func TestBadOptions(t *testing.T) {
	r := fresh()
	for _, c := range []struct {
		name string
		opts map[string]any
		want string
	}{
		{"step", nil, `option "step_size": missing: it has no default`},
		{"step", map[string]any{"step_size": 0}, "must be an integer ≥ 1, got 0"},
		{"exponential", nil, `option "gamma": missing`},
		{"cosine", map[string]any{"eta_min": 0.1}, `option "t_max": missing`},
		{"onecycle", nil, `option "max_lr": missing`},
		{"onecycle", map[string]any{"max_lr": 1, "pct_start": 1.5}, "must be a number from 0 to 1, got 1.5"},
		{"onecycle", map[string]any{"max_lr": 1, "anneal_strategy": "cosine"}, `unknown value "cosine"`},
		{"multistep", nil, `option "milestones": missing`},
		{"multistep", map[string]any{"milestones": 30}, "must be a list, got 30"},
		{"multistep", map[string]any{"milestones": []any{10, 2.5}}, "item 1: must be an integer ≥ 0, got 2.5"},
		{"multistep", map[string]any{"milestones": []any{10, -1}}, "item 1: must be an integer ≥ 0, got -1"},
		{"multistep", map[string]any{"milestones": []any{"10"}}, `item 0: must be an integer ≥ 0, got a string "10"`},
		{"linear", map[string]any{"start_factor": 0}, "must be a number in (0, 1], got 0"},
		{"plateau", map[string]any{"factor": 1}, "must be a number in [0, 1), got 1"},
		{"plateau", map[string]any{"mode": "maximum"}, `unknown value "maximum" (known: min, max)`},
	} {
		_, err := r.New(c.name, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: %v, want …%s…", c.name, c.opts, err, c.want)
		}
	}
	s, err := r.New("multistep", map[string]any{"milestones": []any{30, 80, 80}})
	if err != nil || !slices.Equal(s.(*schedules.MultiStep).Milestones, []int{30, 80, 80}) {
		t.Errorf("milestones [30, 80, 80]: %v %v", s, err)
	}
}
