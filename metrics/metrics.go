// Package metrics exports a sweep's progress as Prometheus metrics.
//
// A *Metrics is a framework.Sink: hand it to the sweep runner and expose
// Handler (or Serve) as /metrics. It owns its registry (never the global
// default one), so several can live in one process and tests stay isolated.
//
// Per-trial series (gradsweep_trial_*) exist while a trial runs and for a
// grace period after it finishes (default 30 s, so the last values are
// scraped), then they are deleted: the number of live series is bounded by
// the number of workers, not by the size of the sweep.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gradsweep/gradsweep/framework"
)

// DefaultGracePeriod is how long a finished trial's series stay exported.
const DefaultGracePeriod = 30 * time.Second

// States lists the values of the state label of gradsweep_trials, in order.
var States = []framework.Status{
	framework.Pending, framework.Running, framework.Completed, framework.Diverged,
	framework.Failed, framework.Interrupted, framework.Pruned,
}

// Buckets of the duration histograms (seconds), in 1-2-5 steps.
var (
	// IterationBuckets: 10 µs to 1 s.
	IterationBuckets = []float64{1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, .01, .02, .05, .1, .2, .5, 1}
	// EpochBuckets: 1 ms to 1000 s.
	EpochBuckets = []float64{1e-3, 2e-3, 5e-3, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}
)

// Option configures New.
type Option func(*Metrics)

// WithGracePeriod sets how long a finished trial's series stay exported
// (DefaultGracePeriod by default). d ≤ 0 deletes them in TrialFinished.
func WithGracePeriod(d time.Duration) Option {
	return func(m *Metrics) { m.grace = d }
}

// Metrics holds a sweep's live metrics. It implements framework.Sink and is
// safe for concurrent use.
type Metrics struct {
	reg   *prometheus.Registry
	grace time.Duration

	trialLoss      *prometheus.GaugeVec
	trialAccuracy  *prometheus.GaugeVec
	trialEpoch     *prometheus.GaugeVec
	trialIteration *prometheus.GaugeVec
	trialLR        *prometheus.GaugeVec
	trialInfo      *prometheus.GaugeVec
	trialGradNorm  *prometheus.GaugeVec
	trials         *prometheus.GaugeVec
	iterations     *prometheus.CounterVec
	samples        *prometheus.CounterVec
	epochs         *prometheus.CounterVec
	divergences    *prometheus.CounterVec
	best           *prometheus.GaugeVec
	iterDur        *durationHistogram
	epochDur       *prometheus.HistogramVec

	handlerOnce sync.Once
	handler     http.Handler

	// byPtr maps *framework.TrialPlan to *trial: the hot path's only lookup.
	byPtr sync.Map

	mu     sync.Mutex
	sweeps map[string]*sweepState
	byID   map[trialKey]*trial
}

var _ framework.Sink = (*Metrics)(nil)

type trialKey struct{ sweep, id string }

type sweepState struct {
	name        string
	iterations  prometheus.Counter
	samples     prometheus.Counter
	epochs      prometheus.Counter
	divergences prometheus.Counter
	epochDur    prometheus.Observer
	// guarded by Metrics.mu
	counts map[framework.Status]int
	best   map[string]float64
}

// trial caches a running trial's series. Its gauge fields are written only
// by the trial's own goroutine (the Sink contract), so they need no lock;
// loss and accuracy children are created on their first finite value, so a
// trial never shows a made-up 0 loss.
type trial struct {
	key       trialKey
	plan      *framework.TrialPlan
	sw        *sweepState
	epoch     prometheus.Gauge
	iteration prometheus.Gauge
	batchLoss prometheus.Gauge
	trainLoss prometheus.Gauge
	valLoss   prometheus.Gauge
	trainAcc  prometheus.Gauge
	valAcc    prometheus.Gauge
	lr        prometheus.Gauge
	finished  bool             // guarded by Metrics.mu
	final     framework.Status // guarded by Metrics.mu

	// What Iteration gathered since it last published: one trial's events
	// come from one goroutine at a time, so these are plain fields, and
	// publishing them every publishEvery iterations (or publishSeconds of
	// training) keeps the weight updates free of atomics and keeps two
	// cores from fighting over the sweep's shared counters and histogram.
	pendingIters, pendingSamples int
	pendingSeconds               float64
	durations                    durationBatch
	lastIteration                int
	lastLoss                     float64
	haveLoss                     bool
	lastLR                       float64 // the last update's learning rate (0: none recorded)
}

// A trial publishes its per-iteration metrics (gradsweep_trial_iteration,
// gradsweep_trial_loss{split="batch"}, gradsweep_iterations_total,
// gradsweep_samples_total, gradsweep_iteration_duration_seconds) every
// publishEvery iterations, or once its unpublished iterations add up to
// publishSeconds, at every epoch end and when it finishes. Every value is
// counted and every duration observed; a scrape sees them at most that
// late. publishEvery is the runner's full batch of updates
// (framework.IterationBatch), so a sweep publishes once per batch.
const (
	publishEvery   = framework.IterationBatch
	publishSeconds = 0.1
)

// publish hands what Iteration gathered to Prometheus.
func (t *trial) publish(m *Metrics) {
	if t.pendingIters == 0 {
		return
	}
	t.iteration.Set(float64(t.lastIteration))
	if t.lastLR > 0 {
		t.lr.Set(t.lastLR)
	}
	if t.haveLoss {
		m.setGauge(&t.batchLoss, m.trialLoss, t, "batch", t.lastLoss)
	}
	t.sw.iterations.Add(float64(t.pendingIters))
	t.sw.samples.Add(float64(t.pendingSamples))
	m.iterDur.add(t.key.sweep, &t.durations)
	t.pendingIters, t.pendingSamples, t.pendingSeconds, t.haveLoss = 0, 0, 0, false
}

// New returns Metrics with its own registry, holding the Go and process
// collectors and the gradsweep_* metrics.
func New(opts ...Option) *Metrics {
	m := &Metrics{
		reg:    prometheus.NewRegistry(),
		grace:  DefaultGracePeriod,
		sweeps: map[string]*sweepState{},
		byID:   map[trialKey]*trial{},
	}
	for _, o := range opts {
		o(m)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"sweep"})
	}
	m.trialLoss = gauge("gradsweep_trial_loss",
		"Loss of a running trial: split=batch is the latest batch loss, train and val the last finished epoch's.",
		"sweep", "trial", "split")
	m.trialAccuracy = gauge("gradsweep_trial_accuracy",
		"Accuracy (0-1) of a running trial at its last finished epoch, by split (train, val).",
		"sweep", "trial", "split")
	m.trialEpoch = gauge("gradsweep_trial_epoch",
		"Epochs a running trial has finished.", "sweep", "trial")
	m.trialIteration = gauge("gradsweep_trial_iteration",
		"Weight updates a running trial has done.", "sweep", "trial")
	m.trialLR = gauge("gradsweep_trial_learning_rate",
		"Learning rate of a running trial's latest update (training.learning_rate, varied in time by training.schedule).", "sweep", "trial")
	m.trialInfo = gauge("gradsweep_trial_info",
		"Hyperparameters of a running trial as labels; the value is always 1.",
		"sweep", "trial", "optimizer", "learning_rate", "batch_size", "epochs", "repeat")
	m.trialGradNorm = gauge("gradsweep_trial_layer_grad_norm",
		"Gradient norm of a running trial's dense layer (its index in the model) at its latest measured update (record.layer_stats_every).",
		"sweep", "trial", "layer")
	m.trials = gauge("gradsweep_trials",
		"Trials of a sweep by state (pending, running, completed, diverged, failed, interrupted, pruned).",
		"sweep", "state")
	m.iterations = counter("gradsweep_iterations_total", "Weight updates done, over all trials of a sweep.")
	m.samples = counter("gradsweep_samples_total", "Training samples processed, over all trials of a sweep.")
	m.epochs = counter("gradsweep_epochs_total", "Epochs finished, over all trials of a sweep.")
	m.divergences = counter("gradsweep_divergences_total", "Trials of a sweep that diverged.")
	m.best = gauge("gradsweep_best_value",
		"The best grid point so far: the mean of the sweep's ranking metric over its repeats, ranked as 'sweep best' ranks.",
		"sweep", "metric")
	m.iterDur = newDurationHistogram("gradsweep_iteration_duration_seconds",
		"Duration of one weight update (forward, backward, update).", IterationBuckets)
	m.epochDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gradsweep_epoch_duration_seconds",
		Help:    "Duration of one epoch.",
		Buckets: EpochBuckets,
	}, []string{"sweep"})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.trialLoss, m.trialAccuracy, m.trialEpoch, m.trialIteration, m.trialLR, m.trialInfo, m.trialGradNorm,
		m.trials, m.iterations, m.samples, m.epochs, m.divergences, m.best, m.iterDur, m.epochDur,
	)
	return m
}

// Registry is the registry the metrics live in; other collectors of the
// process may be registered in it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	m.handlerOnce.Do(func() {
		m.handler = promhttp.InstrumentMetricHandler(m.reg,
			promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	})
	return m.handler
}

// Serve serves Handler at /metrics on addr until ctx is done and returns
// the address it is bound to. An address that is only a port (":9100" or
// "9100") binds 127.0.0.1; to listen on every interface write the host
// (e.g. "0.0.0.0:9100"). Port 0 picks a free port.
func (m *Metrics) Serve(ctx context.Context, addr string) (string, error) {
	addr = ListenAddr(addr)
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("metrics: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<html><body><a href="/metrics">/metrics</a></body></html>`)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			ln.Close()
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()
	return ln.Addr().String(), nil
}

// ListenAddr completes a listen address: a bare port ("9100" or ":9100")
// gets the loopback host 127.0.0.1; an address with a host is unchanged.
func ListenAddr(addr string) string {
	if !strings.Contains(addr, ":") {
		return net.JoinHostPort("127.0.0.1", addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "" {
		return addr
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// sweepLocked returns the state of a sweep, creating its series. m.mu held.
func (m *Metrics) sweepLocked(name string) *sweepState {
	if sw := m.sweeps[name]; sw != nil {
		return sw
	}
	sw := &sweepState{
		name:        name,
		iterations:  m.iterations.WithLabelValues(name),
		samples:     m.samples.WithLabelValues(name),
		epochs:      m.epochs.WithLabelValues(name),
		divergences: m.divergences.WithLabelValues(name),
		epochDur:    m.epochDur.WithLabelValues(name),
		counts:      map[framework.Status]int{},
		best:        map[string]float64{},
	}
	m.sweeps[name] = sw
	m.publishCountsLocked(sw)
	return sw
}

func (m *Metrics) publishCountsLocked(sw *sweepState) {
	for _, st := range States {
		m.trials.WithLabelValues(sw.name, string(st)).Set(float64(sw.counts[st]))
	}
	for st, n := range sw.counts {
		if !knownState(st) {
			m.trials.WithLabelValues(sw.name, string(st)).Set(float64(n))
		}
	}
}

func knownState(s framework.Status) bool {
	for _, st := range States {
		if s == st {
			return true
		}
	}
	return false
}

// SweepStarted sets every trial of the plan pending.
func (m *Metrics) SweepStarted(s framework.SweepInfo, plans []framework.TrialPlan) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sw := m.sweepLocked(s.Name)
	clear(sw.counts)
	sw.counts[framework.Pending] = len(plans)
	m.publishCountsLocked(sw)
}

// TrialStarted creates the trial's series and moves it to running.
func (m *Metrics) TrialStarted(p *framework.TrialPlan) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.startLocked(p)
}

func (m *Metrics) startLocked(p *framework.TrialPlan) *trial {
	key := trialKey{p.Sweep, p.ID}
	sw := m.sweepLocked(p.Sweep)
	switch old := m.byID[key]; {
	case old == nil:
		if sw.counts[framework.Pending] > 0 {
			sw.counts[framework.Pending]--
		}
		sw.counts[framework.Running]++
	case old.finished: // run again (a retry or a resumed sweep)
		m.deleteSeries(key)
		m.byPtr.Delete(old.plan)
		if st := old.final; sw.counts[st] > 0 {
			sw.counts[st]--
		}
		sw.counts[framework.Running]++
	default: // started twice without finishing: still one running trial
		m.deleteSeries(key)
		m.byPtr.Delete(old.plan)
	}
	m.publishCountsLocked(sw)

	t := &trial{key: key, plan: p, sw: sw, durations: m.iterDur.newBatch()}
	t.epoch = m.trialEpoch.WithLabelValues(p.Sweep, p.ID)
	t.epoch.Set(0)
	t.iteration = m.trialIteration.WithLabelValues(p.Sweep, p.ID)
	t.iteration.Set(0)
	set := p.Settings()
	t.lr = m.trialLR.WithLabelValues(p.Sweep, p.ID)
	t.lr.Set(set.Training.LearningRate) // until the first update says which rate a schedule starts at
	batch := strconv.Itoa(set.Training.BatchSize)
	if set.Training.BatchSize == 0 {
		batch = "full"
	}
	m.trialInfo.WithLabelValues(p.Sweep, p.ID, set.Optimizer, FormatParam(set.Training.LearningRate), batch,
		strconv.Itoa(set.Training.Epochs), strconv.Itoa(p.Repeat)).Set(1)
	m.byID[key] = t
	m.byPtr.Store(p, t)
	return t
}

// lookup finds the trial of p: one pointer-keyed load on the hot path.
func (m *Metrics) lookup(p *framework.TrialPlan) *trial {
	if v, ok := m.byPtr.Load(p); ok {
		return v.(*trial)
	}
	// A copy of the plan, or a trial that was never started.
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.byID[trialKey{p.Sweep, p.ID}]; t != nil {
		return t
	}
	return m.startLocked(p)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// setGauge sets *g (creating the child on first use) if v is finite:
// non-finite losses (divergence) keep the last finite value.
func (m *Metrics) setGauge(g *prometheus.Gauge, vec *prometheus.GaugeVec, t *trial, split string, v float64) {
	if !finite(v) {
		return
	}
	if *g == nil {
		*g = vec.WithLabelValues(t.key.sweep, t.key.id, split)
	}
	(*g).Set(v)
}

var _ framework.LayerSink = (*Metrics)(nil)

// LayerStats sets each dense layer's gradient norm (finite ones only; a
// layer's gauge keeps its last finite value). It comes every
// record.layer_stats_every updates, so it is set at once.
func (m *Metrics) LayerStats(p *framework.TrialPlan, _ int, stats []framework.LayerStats) {
	t := m.lookup(p)
	for _, s := range stats {
		if finite(s.GradNorm) {
			m.trialGradNorm.WithLabelValues(t.key.sweep, t.key.id, strconv.Itoa(s.Layer)).Set(s.GradNorm)
		}
	}
}

// Iteration records one weight update. It is cheap: one pointer-keyed map
// load and a few plain stores; Prometheus sees it when the trial next
// publishes (publishEvery).
func (m *Metrics) Iteration(p *framework.TrialPlan, s framework.IterationStats) {
	m.lookup(p).record(m, []framework.IterationStats{s})
}

var _ framework.IterationSink = (*Metrics)(nil)

// IterationRecorder is Iteration for p's trial, looked up once, taking
// updates in batches.
func (m *Metrics) IterationRecorder(p *framework.TrialPlan) func([]framework.IterationStats) {
	t := m.lookup(p)
	return func(updates []framework.IterationStats) { t.record(m, updates) }
}

// record adds consecutive updates to the trial's unpublished ones, and
// publishes them once publishEvery have gathered or they add up to
// publishSeconds.
func (t *trial) record(m *Metrics, updates []framework.IterationStats) {
	if len(updates) == 0 {
		return
	}
	for i := range updates {
		s := &updates[i]
		if finite(s.Loss) {
			t.lastLoss, t.haveLoss = s.Loss, true
		}
		if s.LearningRate > 0 && finite(s.LearningRate) {
			t.lastLR = s.LearningRate
		}
		t.pendingSamples += max(s.BatchSize, 0)
		if s.Seconds >= 0 && finite(s.Seconds) {
			m.iterDur.observe(&t.durations, s.Seconds)
			t.pendingSeconds += s.Seconds
		}
	}
	t.lastIteration = updates[len(updates)-1].Iteration
	t.pendingIters += len(updates)
	if t.pendingIters >= publishEvery || t.pendingSeconds >= publishSeconds {
		t.publish(m)
	}
}

// Epoch records a finished epoch's metrics.
func (m *Metrics) Epoch(p *framework.TrialPlan, s framework.EpochStats) {
	t := m.lookup(p)
	t.publish(m)
	t.epoch.Set(float64(s.Epoch))
	t.iteration.Set(float64(s.Iteration))
	m.setGauge(&t.trainLoss, m.trialLoss, t, "train", s.TrainLoss)
	m.setGauge(&t.valLoss, m.trialLoss, t, "val", s.ValLoss)
	m.setGauge(&t.trainAcc, m.trialAccuracy, t, "train", s.TrainAccuracy)
	m.setGauge(&t.valAcc, m.trialAccuracy, t, "val", s.ValAccuracy)
	t.sw.epochs.Inc()
	if s.EpochSeconds >= 0 && finite(s.EpochSeconds) {
		t.sw.epochDur.Observe(s.EpochSeconds)
	}
}

// TrialFinished moves the trial to its final state, updates the best values
// and schedules the deletion of its series after the grace period.
func (m *Metrics) TrialFinished(p *framework.TrialPlan, o framework.TrialOutcome) {
	t := m.lookup(p)
	t.publish(m)
	m.mu.Lock()
	if t.finished {
		m.mu.Unlock()
		return
	}
	t.finished = true
	sw := t.sw
	if sw.counts[framework.Running] > 0 {
		sw.counts[framework.Running]--
	}
	st := o.Status
	if st == "" {
		st = framework.Failed
	}
	sw.counts[st]++
	t.final = st
	m.publishCountsLocked(sw)
	m.mu.Unlock()
	if st == framework.Diverged {
		sw.divergences.Inc()
	}
	if m.grace <= 0 {
		m.forget(t)
		return
	}
	time.AfterFunc(m.grace, func() { m.forget(t) })
}

// Standing sets gradsweep_best_value to the best grid point's mean over
// its repeats, ranked as 'sweep best' ranks (package results), for the
// sweep's ranking metric only.
func (m *Metrics) Standing(sweep string, s framework.Standing) {
	if !finite(s.Mean) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	sw := m.sweepLocked(sweep)
	if old, ok := sw.best[s.Metric]; ok && old == s.Mean {
		return
	}
	sw.best[s.Metric] = s.Mean
	m.best.WithLabelValues(sweep, s.Metric).Set(s.Mean)
}

// forget deletes a finished trial's series unless the trial was started
// again meanwhile.
func (m *Metrics) forget(t *trial) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byID[t.key] != t {
		return
	}
	delete(m.byID, t.key)
	m.byPtr.Delete(t.plan)
	m.deleteSeries(t.key)
}

func (m *Metrics) deleteSeries(k trialKey) {
	l := prometheus.Labels{"sweep": k.sweep, "trial": k.id}
	for _, v := range []*prometheus.GaugeVec{m.trialLoss, m.trialAccuracy, m.trialEpoch, m.trialIteration, m.trialLR, m.trialInfo, m.trialGradNorm} {
		v.DeletePartialMatch(l)
	}
}

// SweepFinished sets the trial counts to the summary's (when it has them).
func (m *Metrics) SweepFinished(s framework.SweepInfo, summary framework.SweepSummary) {
	if summary.Counts == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	sw := m.sweepLocked(s.Name)
	clear(sw.counts)
	for st, n := range summary.Counts {
		sw.counts[st] = n
	}
	m.publishCountsLocked(sw)
	if summary.Best != nil && finite(summary.BestValue) {
		sw.best[s.Metric] = summary.BestValue
		m.best.WithLabelValues(s.Name, s.Metric).Set(summary.BestValue)
	}
}

// FormatParam formats a trial parameter as a label value: floats with
// strconv's 'g' format, integers in decimal, strings as they are, nil as "".
func FormatParam(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case uint:
		return strconv.FormatUint(uint64(x), 10)
	case bool:
		return strconv.FormatBool(x)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}
