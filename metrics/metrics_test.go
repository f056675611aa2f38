package metrics

import (
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/gradsweep/gradsweep/framework"
)

var testSweep = framework.SweepInfo{Name: "demo", Metric: "val_loss", Started: time.Unix(1700000000, 0)}

func testPlans() []framework.TrialPlan {
	mk := func(i int, id, opt string, lr float64, bs any, repeat int) framework.TrialPlan {
		return framework.TrialPlan{ID: id, Sweep: "demo", Index: i, Point: i, Repeat: repeat,
			Params: map[string]any{
				"optimizer.type":         opt,
				"training.learning_rate": lr,
				"training.batch_size":    bs,
				"training.epochs":        2,
			}}
	}
	return []framework.TrialPlan{
		mk(0, "t0", "sgd", 0.1, 32, 0),
		mk(1, "t1", "adam", 10, 32, 0),
		mk(2, "t2", "sgd", 0.01, "full", 1),
	}
}

// iterationSeconds are the durations the synthetic sequence observes, in order.
var iterationSeconds = []float64{0.0003, 0.0003, 0.003, 0.003, 0.00002, 0.00002, 0.2}

// feed drives m through a small sweep: t0 completes two epochs, t1
// diverges at its second iteration, t2 is still running.
func feed(m *Metrics, plans []framework.TrialPlan) {
	t0, t1, t2 := &plans[0], &plans[1], &plans[2]
	m.SweepStarted(testSweep, plans)
	m.TrialStarted(t0)
	m.TrialStarted(t1)
	it := func(t *framework.TrialPlan, epoch, i, bs int, loss float64, k int) {
		m.Iteration(t, framework.IterationStats{Epoch: epoch, Iteration: i, BatchSize: bs, Loss: loss, Seconds: iterationSeconds[k]})
	}
	it(t0, 1, 1, 32, 2.0, 0)
	it(t0, 1, 2, 32, 1.5, 1)
	m.Epoch(t0, framework.EpochStats{Epoch: 1, Iteration: 2, Samples: 64, TrainLoss: 1.6, ValLoss: 1.7, TrainAccuracy: 0.5, ValAccuracy: 0.45, EpochSeconds: 0.004})
	it(t0, 2, 3, 32, 1.0, 2)
	it(t0, 2, 4, 8, 0.8, 3)
	final := framework.EpochStats{Epoch: 2, Iteration: 4, Samples: 104, TrainLoss: 0.9, ValLoss: 1.0, TrainAccuracy: 0.75, ValAccuracy: 0.7, EpochSeconds: 0.03}
	m.Epoch(t0, final)
	m.TrialFinished(t0, framework.TrialOutcome{Status: framework.Completed, Result: framework.Result{Status: framework.Completed, Epochs: 2, Iterations: 4, Final: final}})
	m.Standing("demo", framework.Standing{Metric: "val_loss", Plan: t0, Mean: 1.0, N: 1})
	it(t1, 1, 1, 32, 3.0, 4)
	it(t1, 1, 2, 32, math.NaN(), 5)
	nan := math.NaN()
	m.TrialFinished(t1, framework.TrialOutcome{Status: framework.Diverged, Result: framework.Result{Status: framework.Diverged, Iterations: 2,
		Final: framework.EpochStats{TrainLoss: nan, ValLoss: nan, TrainAccuracy: nan, ValAccuracy: nan}, DivergedIteration: 2, LastFiniteLoss: 3}})
	m.TrialStarted(t2)
	it(t2, 1, 1, 100, 2.2, 6)
}

// multi joins collectors into one for testutil.CollectAndCompare.
type multi []prometheus.Collector

func (cs multi) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range cs {
		c.Describe(ch)
	}
}

func (cs multi) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cs {
		c.Collect(ch)
	}
}

func (m *Metrics) all() multi {
	return multi{m.trialLoss, m.trialAccuracy, m.trialEpoch, m.trialIteration, m.trialLR, m.trialInfo, m.trialGradNorm,
		m.trials, m.iterations, m.samples, m.epochs, m.divergences, m.best, m.iterDur, m.epochDur}
}

func TestSinkSequence(t *testing.T) {
	m := New(WithGracePeriod(time.Hour))
	feed(m, testPlans())

	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	sum := 0.0
	for _, s := range iterationSeconds {
		sum += s
	}
	expected := `
# HELP gradsweep_best_value The best grid point so far: the mean of the sweep's ranking metric over its repeats, ranked as 'sweep best' ranks.
# TYPE gradsweep_best_value gauge
gradsweep_best_value{metric="val_loss",sweep="demo"} 1
# HELP gradsweep_divergences_total Trials of a sweep that diverged.
# TYPE gradsweep_divergences_total counter
gradsweep_divergences_total{sweep="demo"} 1
# HELP gradsweep_epoch_duration_seconds Duration of one epoch.
# TYPE gradsweep_epoch_duration_seconds histogram
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="0.001"} 0
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="0.002"} 0
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="0.005"} 1
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="0.01"} 1
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="0.02"} 1
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="0.05"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="0.1"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="0.2"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="0.5"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="1"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="2"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="5"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="10"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="20"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="50"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="100"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="200"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="500"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="1000"} 2
gradsweep_epoch_duration_seconds_bucket{sweep="demo",le="+Inf"} 2
gradsweep_epoch_duration_seconds_sum{sweep="demo"} 0.034
gradsweep_epoch_duration_seconds_count{sweep="demo"} 2
# HELP gradsweep_epochs_total Epochs finished, over all trials of a sweep.
# TYPE gradsweep_epochs_total counter
gradsweep_epochs_total{sweep="demo"} 2
# HELP gradsweep_iteration_duration_seconds Duration of one weight update (forward, backward, update).
# TYPE gradsweep_iteration_duration_seconds histogram
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="1e-05"} 0
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="2e-05"} 2
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="5e-05"} 2
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="0.0001"} 2
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="0.0002"} 2
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="0.0005"} 4
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="0.001"} 4
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="0.002"} 4
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="0.005"} 6
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="0.01"} 6
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="0.02"} 6
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="0.05"} 6
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="0.1"} 6
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="0.2"} 7
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="0.5"} 7
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="1"} 7
gradsweep_iteration_duration_seconds_bucket{sweep="demo",le="+Inf"} 7
gradsweep_iteration_duration_seconds_sum{sweep="demo"} ` + strconv.FormatFloat(sum, 'g', -1, 64) + `
gradsweep_iteration_duration_seconds_count{sweep="demo"} 7
# HELP gradsweep_iterations_total Weight updates done, over all trials of a sweep.
# TYPE gradsweep_iterations_total counter
gradsweep_iterations_total{sweep="demo"} 7
# HELP gradsweep_samples_total Training samples processed, over all trials of a sweep.
# TYPE gradsweep_samples_total counter
gradsweep_samples_total{sweep="demo"} 268
# HELP gradsweep_trial_accuracy Accuracy (0-1) of a running trial at its last finished epoch, by split (train, val).
# TYPE gradsweep_trial_accuracy gauge
gradsweep_trial_accuracy{split="train",sweep="demo",trial="t0"} 0.75
gradsweep_trial_accuracy{split="val",sweep="demo",trial="t0"} 0.7
# HELP gradsweep_trial_epoch Epochs a running trial has finished.
# TYPE gradsweep_trial_epoch gauge
gradsweep_trial_epoch{sweep="demo",trial="t0"} 2
gradsweep_trial_epoch{sweep="demo",trial="t1"} 0
gradsweep_trial_epoch{sweep="demo",trial="t2"} 0
# HELP gradsweep_trial_info Hyperparameters of a running trial as labels; the value is always 1.
# TYPE gradsweep_trial_info gauge
gradsweep_trial_info{batch_size="32",epochs="2",learning_rate="0.1",optimizer="sgd",repeat="0",sweep="demo",trial="t0"} 1
gradsweep_trial_info{batch_size="32",epochs="2",learning_rate="10",optimizer="adam",repeat="0",sweep="demo",trial="t1"} 1
gradsweep_trial_info{batch_size="full",epochs="2",learning_rate="0.01",optimizer="sgd",repeat="1",sweep="demo",trial="t2"} 1
# HELP gradsweep_trial_iteration Weight updates a running trial has done.
# TYPE gradsweep_trial_iteration gauge
gradsweep_trial_iteration{sweep="demo",trial="t0"} 4
gradsweep_trial_iteration{sweep="demo",trial="t1"} 2
gradsweep_trial_iteration{sweep="demo",trial="t2"} 1
# HELP gradsweep_trial_learning_rate Learning rate of a running trial's latest update (training.learning_rate, varied in time by training.schedule).
# TYPE gradsweep_trial_learning_rate gauge
gradsweep_trial_learning_rate{sweep="demo",trial="t0"} 0.1
gradsweep_trial_learning_rate{sweep="demo",trial="t1"} 10
gradsweep_trial_learning_rate{sweep="demo",trial="t2"} 0.01
# HELP gradsweep_trial_loss Loss of a running trial: split=batch is the latest batch loss, train and val the last finished epoch's.
# TYPE gradsweep_trial_loss gauge
gradsweep_trial_loss{split="batch",sweep="demo",trial="t0"} 0.8
gradsweep_trial_loss{split="train",sweep="demo",trial="t0"} 0.9
gradsweep_trial_loss{split="val",sweep="demo",trial="t0"} 1
gradsweep_trial_loss{split="batch",sweep="demo",trial="t1"} 3
gradsweep_trial_loss{split="batch",sweep="demo",trial="t2"} 2.2
# HELP gradsweep_trials Trials of a sweep by state (pending, running, completed, diverged, failed, interrupted, pruned).
# TYPE gradsweep_trials gauge
gradsweep_trials{state="completed",sweep="demo"} 1
gradsweep_trials{state="diverged",sweep="demo"} 1
gradsweep_trials{state="failed",sweep="demo"} 0
gradsweep_trials{state="interrupted",sweep="demo"} 0
gradsweep_trials{state="pending",sweep="demo"} 0
gradsweep_trials{state="pruned",sweep="demo"} 0
gradsweep_trials{state="running",sweep="demo"} 1
`
	if err := testutil.CollectAndCompare(m.all(), strings.NewReader(expected)); err != nil {
		t.Error(err)
	}

	// The sweep's summary sets the counts it reports.
	// The sweep's summary sets the counts it reports, and the best value:
	// the stored sweep's, which may include trials another process ran.
	m.SweepFinished(testSweep, framework.SweepSummary{Counts: map[framework.Status]int{
		framework.Completed: 1, framework.Diverged: 1, framework.Interrupted: 1}, Interrupted: true, Best: &framework.TrialPlan{ID: "x"}, BestValue: 0.5})
	if got := testutil.ToFloat64(m.best.WithLabelValues("demo", testSweep.Metric)); got != 0.5 {
		t.Errorf("best value after the summary: %v, want 0.5", got)
	}
	if err := testutil.CollectAndCompare(m.trials, strings.NewReader(`
# HELP gradsweep_trials Trials of a sweep by state (pending, running, completed, diverged, failed, interrupted, pruned).
# TYPE gradsweep_trials gauge
gradsweep_trials{state="completed",sweep="demo"} 1
gradsweep_trials{state="diverged",sweep="demo"} 1
gradsweep_trials{state="failed",sweep="demo"} 0
gradsweep_trials{state="interrupted",sweep="demo"} 1
gradsweep_trials{state="pending",sweep="demo"} 0
gradsweep_trials{state="pruned",sweep="demo"} 0
gradsweep_trials{state="running",sweep="demo"} 0
`)); err != nil {
		t.Error(err)
	}
}

// perTrialSeries counts the per-trial series of m.
func perTrialSeries(m *Metrics) int {
	n := 0
	for _, c := range []prometheus.Collector{m.trialLoss, m.trialAccuracy, m.trialEpoch, m.trialIteration, m.trialLR, m.trialInfo, m.trialGradNorm} {
		n += testutil.CollectAndCount(c)
	}
	return n
}

func TestFinishedTrialsVanishAfterGrace(t *testing.T) {
	m := New(WithGracePeriod(30 * time.Millisecond))
	plans := testPlans()
	feed(m, plans)
	// t0 and t1 are finished, t2 runs: its iteration, epoch, lr, info and batch loss stay.
	deadline := time.Now().Add(5 * time.Second)
	for perTrialSeries(m) != 5 {
		if time.Now().After(deadline) {
			t.Fatalf("per-trial series after the grace period: %d, want 5 (those of the running trial)", perTrialSeries(m))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := testutil.CollectAndCount(m.trialInfo); n != 1 {
		t.Errorf("gradsweep_trial_info series: %d, want 1", n)
	}
	// Sweep-level series stay.
	if n := testutil.CollectAndCount(m.trials); n != len(States) {
		t.Errorf("gradsweep_trials series: %d, want %d", n, len(States))
	}
	// the running trial's one iteration took 0.2 s ≥ publishSeconds: published at once
	if v := testutil.ToFloat64(m.iterations.WithLabelValues("demo")); v != 7 {
		t.Errorf("iterations_total = %v, want 7", v)
	}

	m.TrialFinished(&plans[2], framework.TrialOutcome{Status: framework.Interrupted})
	if v := testutil.ToFloat64(m.iterations.WithLabelValues("demo")); v != 7 {
		t.Errorf("iterations_total after the last trial finished = %v, want 7", v)
	}
	for perTrialSeries(m) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("per-trial series after the last trial's grace period: %d, want 0", perTrialSeries(m))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestZeroGraceDeletesSynchronously(t *testing.T) {
	m := New(WithGracePeriod(0))
	plans := testPlans()
	m.SweepStarted(testSweep, plans)
	m.TrialStarted(&plans[0])
	m.Iteration(&plans[0], framework.IterationStats{Epoch: 1, Iteration: 1, BatchSize: 4, Loss: 1, Seconds: publishSeconds})
	if n := perTrialSeries(m); n != 5 {
		t.Fatalf("series of a running trial: %d, want 5", n)
	}
	m.TrialFinished(&plans[0], framework.TrialOutcome{Status: framework.Failed, Error: "boom"})
	if n := perTrialSeries(m); n != 0 {
		t.Fatalf("series right after TrialFinished with no grace: %d, want 0", n)
	}
	if v := testutil.ToFloat64(m.trials.WithLabelValues("demo", "failed")); v != 1 {
		t.Errorf("failed trials = %v, want 1", v)
	}
}

// A trial started again (a retry) keeps its series when the grace period
// of its earlier run ends.
func TestRestartedTrialKeepsSeries(t *testing.T) {
	m := New(WithGracePeriod(20 * time.Millisecond))
	plans := testPlans()
	m.SweepStarted(testSweep, plans)
	m.TrialStarted(&plans[0])
	m.TrialFinished(&plans[0], framework.TrialOutcome{Status: framework.Interrupted})
	copyPlan := plans[0] // another pointer, same trial
	m.TrialStarted(&copyPlan)
	m.Iteration(&copyPlan, framework.IterationStats{Iteration: 1, BatchSize: 1, Loss: 0.5, Seconds: publishSeconds})
	time.Sleep(100 * time.Millisecond)
	if v := testutil.ToFloat64(m.trialIteration.WithLabelValues("demo", "t0")); v != 1 {
		t.Errorf("iteration of the restarted trial = %v, want 1", v)
	}
	if n := perTrialSeries(m); n != 5 {
		t.Errorf("series of the restarted trial: %d, want 5", n)
	}
	for st, want := range map[string]float64{"pending": 2, "running": 1, "interrupted": 0} {
		if v := testutil.ToFloat64(m.trials.WithLabelValues("demo", st)); v != want {
			t.Errorf("trials{state=%q} = %v, want %v", st, v, want)
		}
	}
}

func TestIterationWithoutTrialStarted(t *testing.T) {
	m := New()
	p := testPlans()[0]
	m.Iteration(&p, framework.IterationStats{Iteration: 3, BatchSize: 2, Loss: 1.25, Seconds: publishSeconds})
	if v := testutil.ToFloat64(m.trialLoss.WithLabelValues("demo", "t0", "batch")); v != 1.25 {
		t.Errorf("batch loss = %v, want 1.25", v)
	}
}

// Iterations reach Prometheus every publishEvery of them, once they add up
// to publishSeconds, and at the epoch end; none is lost on the way.
func TestIterationsPublishedInBatches(t *testing.T) {
	m := New()
	plans := testPlans()
	p := &plans[0]
	m.SweepStarted(testSweep, plans)
	m.TrialStarted(p)
	published := func() (iteration, total, observed float64) {
		ch := make(chan prometheus.Metric, 1)
		m.iterDur.Collect(ch)
		close(ch)
		h := &dto.Metric{}
		if hm, ok := <-ch; ok {
			hm.Write(h)
		}
		return testutil.ToFloat64(m.trialIteration.WithLabelValues("demo", "t0")),
			testutil.ToFloat64(m.iterations.WithLabelValues("demo")), float64(h.GetHistogram().GetSampleCount())
	}
	i := 0
	rec := m.IterationRecorder(p) // the runner's path; odd iterations take Iteration's
	step := func(seconds float64) {
		i++
		st := framework.IterationStats{Epoch: 1, Iteration: i, BatchSize: 2, Loss: float64(i), Seconds: seconds}
		if i%2 == 0 {
			rec([]framework.IterationStats{st})
		} else {
			m.Iteration(p, st)
		}
	}
	for range publishEvery - 1 {
		step(1e-4)
	}
	if it, tot, obs := published(); it != 0 || tot != 0 || obs != 0 {
		t.Fatalf("after %d quick iterations: iteration %v, total %v, observed %v; want nothing yet", i, it, tot, obs)
	}
	step(1e-4)
	if it, tot, obs := published(); it != publishEvery || tot != publishEvery || obs != publishEvery {
		t.Fatalf("after %d iterations: iteration %v, total %v, observed %v", i, it, tot, obs)
	}
	step(1e-4)
	step(publishSeconds) // a slow one: published at once, with the one before
	if it, tot, obs := published(); it != publishEvery+2 || tot != publishEvery+2 || obs != publishEvery+2 {
		t.Fatalf("after a slow iteration: iteration %v, total %v, observed %v", it, tot, obs)
	}
	step(1e-4)
	m.Epoch(p, framework.EpochStats{Epoch: 1, Iteration: i, TrainLoss: 1})
	if it, tot, obs := published(); it != float64(i) || tot != float64(i) || obs != float64(i) {
		t.Fatalf("after the epoch: iteration %v, total %v, observed %v; want %d", it, tot, obs, i)
	}
	if v := testutil.ToFloat64(m.trialLoss.WithLabelValues("demo", "t0", "batch")); v != float64(i) {
		t.Errorf("batch loss = %v, want the last, %d", v, i)
	}
}

func TestIterationAllocatesNothing(t *testing.T) {
	m := New()
	plans := testPlans()
	m.SweepStarted(testSweep, plans)
	m.TrialStarted(&plans[0])
	s := framework.IterationStats{Epoch: 1, Iteration: 1, BatchSize: 32, Loss: 0.5, Seconds: 1e-4}
	m.Iteration(&plans[0], s)
	if a := testing.AllocsPerRun(1000, func() { m.Iteration(&plans[0], s) }); a != 0 {
		t.Errorf("Iteration allocates %v times per call, want 0", a)
	}
}

func BenchmarkIteration(b *testing.B) {
	m := New()
	plans := testPlans()
	m.SweepStarted(testSweep, plans)
	m.TrialStarted(&plans[0])
	s := framework.IterationStats{Epoch: 1, Iteration: 1, BatchSize: 32, Loss: 0.5, Seconds: 1e-4}
	b.ReportAllocs()
	for b.Loop() {
		m.Iteration(&plans[0], s)
	}
}

func TestListenAddr(t *testing.T) {
	for in, want := range map[string]string{
		"9100":           "127.0.0.1:9100",
		":9100":          "127.0.0.1:9100",
		"0":              "127.0.0.1:0",
		"0.0.0.0:9100":   "0.0.0.0:9100",
		"localhost:9100": "localhost:9100",
		"[::1]:9100":     "[::1]:9100",
	} {
		if got := ListenAddr(in); got != want {
			t.Errorf("ListenAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServeBindsLoopback(t *testing.T) {
	for _, addr := range []string{"0", ":0"} {
		m := New()
		feed(m, testPlans())
		ctx, cancel := context.WithCancel(context.Background())
		bound, err := m.Serve(ctx, addr)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		host, port, err := net.SplitHostPort(bound)
		if err != nil || host != "127.0.0.1" || port == "0" {
			t.Errorf("Serve(%q) bound %q, want 127.0.0.1 and a port", addr, bound)
		}
		resp, err := http.Get("http://" + bound + "/metrics")
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`gradsweep_trials{state="running",sweep="demo"} 1`)) {
			t.Errorf("GET /metrics: %s\n%.500s", resp.Status, body)
		}
		cancel()
		// The server stops with its context.
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", bound, time.Second)
			if err != nil {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Fatalf("server on %s still accepts connections after its context ended", bound)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// exposition is what a scrape of m returns.
func exposition(t *testing.T, m *Metrics) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	return rec.Body.Bytes()
}

func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found (apt-get install prometheus)")
	}
	m := New(WithGracePeriod(time.Hour))
	feed(m, testPlans())
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition(t, m))
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestPromtoolCheckConfig(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found (apt-get install prometheus)")
	}
	out, err := exec.Command(promtool, "check", "config", "../deploy/prometheus/prometheus.yml").CombinedOutput()
	if err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}

func TestFormatParam(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{{0.1, "0.1"}, {1e-4, "0.0001"}, {1e-5, "1e-05"}, {32, "32"}, {int64(7), "7"}, {"full", "full"}, {nil, ""}, {true, "true"}} {
		if got := FormatParam(c.v); got != c.want {
			t.Errorf("FormatParam(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}

// Trials run concurrently (one goroutine each, as the Sink contract says)
// while the registry is scraped; run with -race.
func TestConcurrentTrials(t *testing.T) {
	m := New(WithGracePeriod(time.Millisecond))
	plans := make([]framework.TrialPlan, 8)
	for i := range plans {
		plans[i] = framework.TrialPlan{ID: "c" + strconv.Itoa(i), Sweep: "conc", Index: i,
			Params: map[string]any{"training.learning_rate": 0.1, "training.batch_size": 4}}
	}
	m.SweepStarted(framework.SweepInfo{Name: "conc"}, plans)
	done := make(chan struct{})
	go func() {
		for i := range plans {
			go func(p *framework.TrialPlan) {
				m.TrialStarted(p)
				for it := 1; it <= 500; it++ {
					m.Iteration(p, framework.IterationStats{Epoch: 1, Iteration: it, BatchSize: 4, Loss: 1 / float64(it), Seconds: 1e-5})
				}
				m.Epoch(p, framework.EpochStats{Epoch: 1, Iteration: 500, TrainLoss: 0.01, ValLoss: 0.02, TrainAccuracy: nan(), ValAccuracy: nan()})
				m.TrialFinished(p, framework.TrialOutcome{Status: framework.Completed, Result: framework.Result{Final: framework.EpochStats{TrainLoss: 0.01, ValLoss: 0.02}}})
				done <- struct{}{}
			}(&plans[i])
		}
	}()
	for range plans {
		for {
			select {
			case <-done:
			default:
				if _, err := m.Registry().Gather(); err != nil {
					t.Fatal(err)
				}
				continue
			}
			break
		}
	}
	if v := testutil.ToFloat64(m.iterations.WithLabelValues("conc")); v != 8*500 {
		t.Errorf("iterations_total = %v, want %v", v, 8*500)
	}
	if v := testutil.ToFloat64(m.samples.WithLabelValues("conc")); v != 8*500*4 {
		t.Errorf("samples_total = %v, want %v", v, 8*500*4)
	}
	if v := testutil.ToFloat64(m.trials.WithLabelValues("conc", "completed")); v != 8 {
		t.Errorf("completed = %v, want 8", v)
	}
	deadline := time.Now().Add(5 * time.Second)
	for perTrialSeries(m) != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := perTrialSeries(m); n != 0 {
		t.Errorf("per-trial series left: %d", n)
	}
}

func nan() float64 { return math.NaN() }

// A trial's layer gradient norms are a gauge per layer, keep their last
// finite value, and go with the trial's other series.
func TestLayerGradNormGauge(t *testing.T) {
	m := New(WithGracePeriod(0))
	plans := testPlans()
	m.SweepStarted(testSweep, plans)
	p := &plans[0]
	m.TrialStarted(p)
	m.LayerStats(p, 1, []framework.LayerStats{{Layer: 0, GradNorm: 1e-7}, {Layer: 2, GradNorm: 0.5}})
	m.LayerStats(p, 16, []framework.LayerStats{{Layer: 0, GradNorm: math.Inf(1)}, {Layer: 2, GradNorm: 0.25}})
	for layer, want := range map[string]float64{"0": 1e-7, "2": 0.25} {
		if got := testutil.ToFloat64(m.trialGradNorm.WithLabelValues("demo", p.ID, layer)); got != want {
			t.Errorf("layer %s: %v, want %v", layer, got, want)
		}
	}
	m.TrialFinished(p, framework.TrialOutcome{Status: framework.Completed})
	if n := testutil.CollectAndCount(m.trialGradNorm); n != 0 {
		t.Errorf("%d layer series after the trial finished, want 0", n)
	}
}
