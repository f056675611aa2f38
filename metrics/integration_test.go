package metrics

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gradsweep/gradsweep/framework"
)

// TestPrometheusIntegration runs the real Debian prometheus and
// prometheus-pushgateway on loopback ports and a real sweep — the `sweep`
// binary with --metrics-addr and --pushgateway — and checks through
// Prometheus' HTTP API what arrived: per-trial loss series with the planned
// labels, trial states and counters equal to what the database recorded, the
// pushed summary (honor_labels), and every dashboard query. Bounded to 90 s
// after the build.
func TestPrometheusIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (-short)")
	}
	promBin, err1 := exec.LookPath("prometheus")
	pgwBin, err2 := exec.LookPath("prometheus-pushgateway")
	if err1 != nil || err2 != nil {
		t.Skip("prometheus / prometheus-pushgateway not found: apt-get install -y prometheus prometheus-pushgateway (CI installs them)")
	}
	dir := t.TempDir()
	sweepBin := filepath.Join(dir, "sweep")
	// The build is not part of the bound: a cold cgo build of SQLite on a
	// loaded 2-core machine can take longer than the whole test.
	if out, err := exec.Command("go", "build", "-o", sweepBin, "github.com/gradsweep/gradsweep/cmd/sweep").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	target := freeLoopbackAddr(t) // where the sweep will serve /metrics
	pgwAddr := freeLoopbackAddr(t)
	// Debian's pushgateway persists to /var/lib/prometheus by default: keep
	// this test's pushes in its own folder (and away from earlier runs).
	startProcess(ctx, t, dir, "pushgateway", pgwBin, "http://"+pgwAddr+"/-/ready",
		"--web.listen-address="+pgwAddr, "--persistence.file="+filepath.Join(dir, "pushgateway.data"))

	promAddr := freeLoopbackAddr(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: gradsweep
    scrape_interval: 250ms
    scrape_timeout: 250ms
    static_configs:
      - targets: [%q]
  - job_name: pushgateway
    scrape_interval: 1s
    scrape_timeout: 1s
    honor_labels: true
    static_configs:
      - targets: [%q]
`, target, pgwAddr)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	startProcess(ctx, t, dir, "prometheus", promBin, "http://"+promAddr+"/-/ready",
		"--config.file="+cfgFile,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr,
		"--log.level=warn")
	prom := promClient{base: "http://" + promAddr}
	// Prometheus starts scraping a few seconds after it is ready (its scrape
	// manager applies targets every 5 s): wait for the pushgateway target.
	prom.waitValue(ctx, t, `sum(up{job="pushgateway"})`, 1)

	info, plans, summary := runRealSweep(ctx, t, dir, sweepBin, target, "http://"+pgwAddr)
	sw := strconv.Quote(info.Name)

	// The sweep has finished and lingers: the scrapes now show its final state.
	prom.waitValue(ctx, t, `sum(gradsweep_iterations_total{sweep=`+sw+`})`, float64(summary.Iterations))
	for _, st := range States {
		prom.waitValue(ctx, t, `gradsweep_trials{sweep=`+sw+`,state="`+string(st)+`"}`, float64(summary.Counts[st]))
	}
	prom.waitValue(ctx, t, `sum(gradsweep_divergences_total{sweep=`+sw+`})`, float64(summary.Counts[framework.Diverged]))
	if summary.Counts[framework.Diverged] == 0 {
		t.Errorf("the sweep was meant to have a diverging trial: %v", summary.Counts)
	}

	// Per-trial series: labels as planned; loss finite and decreasing.
	for _, p := range plans {
		res := prom.query(ctx, t, `max_over_time(gradsweep_trial_info{sweep=`+sw+`,trial=`+strconv.Quote(p.ID)+`}[5m])`)
		if len(res) != 1 {
			t.Errorf("gradsweep_trial_info of %s: %d series, want 1", p.ID, len(res))
			continue
		}
		l := res[0].Metric
		want := map[string]string{
			"job": "gradsweep", "instance": target, "sweep": info.Name, "trial": p.ID,
			"optimizer":     FormatParam(p.Params["optimizer.type"]),
			"learning_rate": FormatParam(p.Params["training.learning_rate"]),
			"batch_size":    FormatParam(p.Params["training.batch_size"]),
			"epochs":        FormatParam(p.Params["training.epochs"]),
			"repeat":        strconv.Itoa(p.Repeat),
		}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("gradsweep_trial_info of %s: %s=%q, want %q", p.ID, k, l[k], v)
			}
		}
	}
	for _, split := range []string{"batch", "train"} {
		series := prom.query(ctx, t, `gradsweep_trial_loss{sweep=`+sw+`,split="`+split+`"}[5m]`)
		decreasing := 0
		for _, s := range series {
			vals := s.values(t)
			for _, v := range vals {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("loss %s of %s: non-finite sample in %v", split, s.Metric["trial"], vals)
				}
			}
			if len(vals) >= 2 && vals[len(vals)-1] < vals[0] {
				decreasing++
			}
		}
		if len(series) == 0 || decreasing == 0 {
			for _, s := range series {
				t.Logf("%s: %v", s.Metric["trial"], s.values(t))
			}
			t.Errorf("loss split=%s: %d series, %d of them decreasing; want a decreasing one", split, len(series), decreasing)
		}
		t.Logf("loss split=%s: %d series, %d decreasing over the scrapes", split, len(series), decreasing)
	}

	// The summary the sweep pushed at its end arrives with honor_labels.
	pushedBySweep := `{job="gradsweep",sweep=` + sw
	prom.waitValue(ctx, t, `gradsweep_sweep_trials`+pushedBySweep+`,state="completed"}`, float64(summary.Counts[framework.Completed]))
	prom.waitValue(ctx, t, `gradsweep_sweep_best_value`+pushedBySweep+`,metric=`+strconv.Quote(info.Metric)+`}`, summary.BestValue)

	// A summary pushed with extra grouping labels (a shard) keeps them.
	pgwURL := "http://" + pgwAddr
	if err := PushSummary(ctx, pgwURL, "gradsweep-itest", map[string]string{"shard": "0"}, info, summary); err != nil {
		t.Fatal(err)
	}
	pushed := `{job="gradsweep-itest",sweep=` + sw + `,shard="0"`
	prom.waitValue(ctx, t, `gradsweep_sweep_trials`+pushed+`,state="completed"}`, float64(summary.Counts[framework.Completed]))
	prom.waitValue(ctx, t, `gradsweep_sweep_duration_seconds`+pushed+`}`, summary.Seconds)
	if res := prom.query(ctx, t, `time() - gradsweep_sweep_last_success_timestamp_seconds`+pushed+`}`); len(res) != 1 ||
		res[0].value(t) < -5 || res[0].value(t) > 90 {
		t.Errorf("gradsweep_sweep_last_success_timestamp_seconds: %+v", res)
	}

	// Every dashboard query, expanded for this sweep, returns a series.
	dash, err := Dashboard()
	if err != nil {
		t.Fatal(err)
	}
	qs, err := DashboardQueries(dash)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		expr := ExpandQuery(q, info.Name)
		if res := prom.query(ctx, t, expr); len(res) == 0 {
			t.Errorf("dashboard query returns no series: %s", expr)
		}
	}
	t.Logf("%d dashboard queries checked", len(qs))
}

// itestExperiment trains for a few seconds: spirals with batch size 1, so
// several scrapes (every 250 ms) see each trial, and one learning rate far too large.
// itestExperiment's trials each run for about three of the 250 ms scrapes
// (30 epochs at batch size 1), so a loss series has samples to decrease
// over; with 6 epochs a trial could start and end between two scrapes.
const itestExperiment = `name: itest
seed: 1
dataset: {synthetic: spirals, n: 12000, noise: 0.1, validation_split: 0.2}
model:
  - {type: dense, units: 64, init: he}
  - {type: relu}
  - {type: dense, units: 64, init: he}
  - {type: relu}
  - {type: dense, units: 2}
loss: cross_entropy
optimizer: {type: sgd}
training: {learning_rate: 0.01, batch_size: 1, epochs: 30}
grid:
  training.learning_rate: [0.003, 0.01, 50.0]
  optimizer.type: [sgd, momentum]
`

// runRealSweep runs the sweep binary against Prometheus and the
// Pushgateway and reads back from its database what it did.
func runRealSweep(ctx context.Context, t *testing.T, dir, bin, metricsAddr, pgwURL string) (framework.SweepInfo, []framework.TrialPlan, framework.SweepSummary) {
	t.Helper()
	exp := filepath.Join(dir, "itest.yaml")
	if err := os.WriteFile(exp, []byte(itestExperiment), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "itest.db")
	started := time.Now()
	// The sweep keeps serving its final metrics (--metrics-linger) until the
	// test is done with them and interrupts it.
	cmd := exec.Command(bin, "run", exp, "--db", db, "--workers", "2", "--quiet",
		"--metrics-addr", metricsAddr, "--pushgateway", pgwURL, "--metrics-linger", "60s")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err != nil {
			t.Errorf("sweep run after its linger: %v\n%s", err, stderr.String())
		}
	})
	finished := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var all strings.Builder
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "stored in ") {
				finished <- all.String()
			}
		}
		close(finished)
	}()
	select {
	case _, ok := <-finished:
		if !ok {
			t.Fatalf("sweep run ended without finishing: %s", stderr.String())
		}
	case <-ctx.Done():
		t.Fatalf("sweep did not finish in time: %s", stderr.String())
	}
	out, err := exec.CommandContext(ctx, bin, "export", "itest", "--db", db, "--format", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var trials []struct {
		ID         string         `json:"id"`
		Repeat     int            `json:"repeat"`
		Params     map[string]any `json:"params"`
		State      string         `json:"state"`
		Iterations int64          `json:"iterations"`
	}
	if err := json.Unmarshal(out, &trials); err != nil {
		t.Fatal(err)
	}
	sum := framework.SweepSummary{Counts: map[framework.Status]int{}}
	var plans []framework.TrialPlan
	for _, tr := range trials {
		// JSON numbers are float64; the metrics format ints without a point
		if bs, ok := tr.Params["training.batch_size"].(float64); ok {
			tr.Params["training.batch_size"] = int(bs)
		}
		if ep, ok := tr.Params["training.epochs"].(float64); ok {
			tr.Params["training.epochs"] = int(ep)
		}
		plans = append(plans, framework.TrialPlan{ID: tr.ID, Sweep: "itest", Repeat: tr.Repeat, Params: tr.Params})
		sum.Counts[framework.Status(tr.State)]++
		sum.Iterations += tr.Iterations
	}
	out, err = exec.CommandContext(ctx, bin, "best", "itest", "--db", db, "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var ranked []struct {
		Mean *float64 `json:"mean"`
	}
	if err := json.Unmarshal(out, &ranked); err != nil || len(ranked) == 0 || ranked[0].Mean == nil {
		t.Fatalf("best: %v %s", err, out)
	}
	sum.BestValue = *ranked[0].Mean
	sum.Seconds = time.Since(started).Seconds() // a value no earlier run pushed
	return framework.SweepInfo{Name: "itest", Metric: "val_loss"}, plans, sum
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProcess starts a server, stops it (SIGTERM, then SIGKILL) and waits
// for it at cleanup, and waits until readyURL answers 200.
func startProcess(ctx context.Context, t *testing.T, dir, name, bin, readyURL string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil && len(b) > 0 {
				t.Logf("%s log:\n%s", name, lastBytes(b, 3000))
			}
		}
	})
	for {
		resp, err := http.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-exited:
			exited <- err
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("%s exited: %v\n%s", name, err, lastBytes(b, 3000))
		case <-ctx.Done():
			t.Fatalf("%s not ready at %s", name, readyURL)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

type promClient struct{ base string }

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`  // [time, "value"] of an instant vector
	Values [][]any           `json:"values"` // samples of a range vector
}

func sampleValue(t *testing.T, s []any) float64 {
	t.Helper()
	if len(s) != 2 {
		t.Fatalf("bad sample %v", s)
	}
	str, _ := s[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		t.Fatalf("bad sample value %v", s)
	}
	return v
}

func (s promSeries) value(t *testing.T) float64 { return sampleValue(t, s.Value) }

func (s promSeries) values(t *testing.T) []float64 {
	var out []float64
	for _, v := range s.Values {
		out = append(out, sampleValue(t, v))
	}
	return out
}

// query evaluates expr now through /api/v1/query.
func (c promClient) query(ctx context.Context, t *testing.T, expr string) []promSeries {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/query?query="+url.QueryEscape(expr), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s %s", expr, r.Status, r.Error)
	}
	var out []promSeries
	switch r.Data.ResultType {
	case "vector", "matrix":
		if err := json.Unmarshal(r.Data.Result, &out); err != nil {
			t.Fatalf("query %s: %v", expr, err)
		}
	case "scalar":
		var v []any
		json.Unmarshal(r.Data.Result, &v)
		out = []promSeries{{Value: v}}
	}
	return out
}

// waitValue waits until expr is one series of value want (within 1e-9
// relative), failing the test at the deadline.
func (c promClient) waitValue(ctx context.Context, t *testing.T, expr string, want float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var last []promSeries
	for {
		last = c.query(ctx, t, expr)
		if len(last) == 1 {
			got := last[0].value(t)
			if got == want || math.Abs(got-want) <= 1e-9*math.Abs(want) {
				return
			}
		}
		select {
		case <-ctx.Done():
			var b bytes.Buffer
			json.NewEncoder(&b).Encode(last)
			t.Fatalf("%s: want %v, got %s", expr, want, b.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
