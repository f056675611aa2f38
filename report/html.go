package report

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/results"
)

// cell is one table cell: its text, the value it sorts by (data-v; empty
// sorts last) and an optional link.
type cell struct {
	Text  string
	Sort  string
	Href  string
	Class string
}

type table struct {
	ID     string
	Header []string
	Rows   [][]cell
}

type kv struct{ K, V string }

type figView struct {
	Src, Alt, Caption string
	W, H              int
}

type sectionView struct {
	ID, Title, Intro string
	Figures          []figView
	Notes            []string
}

type linkView struct{ Text, Href string }

type indexView struct {
	Name, Config, Metric, MetricNote string
	Failed                           []string
	Meta                             []kv
	Summary                          []kv
	Best                             *linkView
	BestText                         string
	BestPoint                        string
	Points                           table
	Sections                         []sectionView
	Trials                           table
}

type trialView struct {
	Sweep, ID, Title string
	Status           string
	Error            string
	Facts            []kv
	Params           []kv
	Figures          []figView
	Epochs           table
	Prev, Next, Up   *linkView
	Repeats          []linkView
}

func num(v float64) cell {
	if !finite(v) {
		if math.IsNaN(v) {
			return cell{Text: "–"}
		}
		return cell{Text: fmtNum(v)}
	}
	return cell{Text: fmtNum(v), Sort: strconv.FormatFloat(v, 'g', -1, 64), Class: "n"}
}

func intCell(v int) cell {
	return cell{Text: strconv.Itoa(v), Sort: strconv.Itoa(v), Class: "n"}
}

func textCell(s string) cell { return cell{Text: s, Sort: s} }

func seconds(s float64) string {
	if !finite(s) || s < 0 {
		return "–"
	}
	if s < 60 {
		return strconv.FormatFloat(s, 'f', 2, 64) + " s"
	}
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune(' ')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

var stateOrder = []framework.Status{framework.Completed, framework.Pruned, framework.Diverged, framework.Failed,
	framework.Interrupted, framework.Running, framework.Pending}

// writeIndex writes index.html: the sweep's identity, summary, best
// setting, ranked grid points, pictures and all trials.
func writeIndex(dir string, a *analysis, opt Options, charts []chart, notes map[string][]string, failed []string) error {
	d := a.d
	v := indexView{Name: d.Info.Name, Config: d.Info.Config, Metric: a.metric.Name + " (" + a.metric.Direction() + ")",
		MetricNote: a.metric.Note, Failed: failed}
	if v.Name == "" {
		v.Name = "(unnamed sweep)"
	}
	if !d.Info.Started.IsZero() {
		v.Meta = append(v.Meta, kv{"started", d.Info.Started.UTC().Format(time.RFC3339)})
	}
	v.Meta = append(v.Meta, kv{"seed", strconv.FormatUint(d.Info.Seed, 10)})
	if d.Info.ConfigHash != "" {
		v.Meta = append(v.Meta, kv{"config hash", d.Info.ConfigHash})
	}
	v.Meta = append(v.Meta, kv{"ranking metric", v.Metric})
	v.Summary = a.summary(opt)
	v.BestPoint, v.Best, v.BestText = a.bestViews()
	v.Points = a.pointsTable()
	v.Sections = sectionViews(charts, notes)
	v.Trials = a.trialsTable()
	return execute(filepath.Join(dir, "index.html"), "index", v)
}

// summary is the index's summary: counts by state, time, work, and work
// saved by pruning.
func (a *analysis) summary(opt Options) (out []kv) {
	d := a.d
	counts := map[framework.Status]int{}
	var computeSec float64
	var iters int64
	var first, last time.Time
	for _, ti := range a.trials {
		t := ti.T
		counts[t.Status]++
		if finite(t.Seconds) && t.Seconds > 0 {
			computeSec += t.Seconds
		}
		iters += int64(t.Iterations)
		if !t.Started.IsZero() && (first.IsZero() || t.Started.Before(first)) {
			first = t.Started
		}
		if !t.Ended.IsZero() && t.Ended.After(last) {
			last = t.Ended
		}
	}
	if !d.Info.Started.IsZero() && (first.IsZero() || d.Info.Started.Before(first)) {
		first = d.Info.Started
	}
	out = append(out, kv{"trials", strconv.Itoa(len(a.trials))})
	var states []string
	for _, s := range stateOrder {
		if counts[s] > 0 {
			states = append(states, fmt.Sprintf("%s %d", s, counts[s]))
		}
	}
	var other []string
	for s, n := range counts {
		if !slices.Contains(stateOrder, s) {
			name := string(s)
			if name == "" {
				name = "(no state)"
			}
			other = append(other, fmt.Sprintf("%s %d", name, n))
		}
	}
	slices.Sort(other)
	states = append(states, other...)
	out = append(out, kv{"by state", orDefault(strings.Join(states, " · "), "–")})
	out = append(out, kv{"grid points", strconv.Itoa(len(a.points))})
	out = append(out, kv{"training time (sum over trials)", seconds(computeSec)})
	if !first.IsZero() && last.After(first) {
		out = append(out, kv{"wall time (first start to last end)", seconds(last.Sub(first).Seconds())})
	}
	out = append(out, kv{"iterations done", thousands(iters)})
	saved, unknown := a.savedIterations()
	savedText := ""
	if opt.SavedIterations != nil {
		saved = *opt.SavedIterations
		savedText = " (as reported by the sweep)"
	} else if unknown > 0 {
		savedText = fmt.Sprintf(" (estimate; %d pruned trials without planned epochs not counted)", unknown)
	} else {
		savedText = " (estimate: (planned − done epochs) × iterations per epoch, pruned trials)"
	}
	if iters+saved > 0 {
		savedText = fmt.Sprintf(" = %.1f%% of the planned work", 100*float64(saved)/float64(iters+saved)) + savedText
	}
	return append(out, kv{"compute saved by pruning", thousands(saved) + " iterations" + savedText})
}

// bestViews are the best setting (in the words of 'sweep best') and the
// best single trial.
func (a *analysis) bestViews() (point string, best *linkView, bestText string) {
	sum := results.Summarize(a.metric.Metric, a.d.Trials, a.d.Info.Planned)
	point = sum.Headline(results.Describe)
	if c := sum.Coverage(); c != "" {
		point += " (" + c + ")"
	}
	b := a.best
	if b == nil {
		return point, nil, ""
	}
	best = &linkView{b.T.Plan.ID, "trials/" + b.File + ".html"}
	bestText = fmt.Sprintf("%s = %s", a.metric.Name, fmtNum(b.Metric))
	if b.Label != "" {
		bestText += " with " + b.Label
	}
	if b.T.Status == framework.Pruned {
		bestText += fmt.Sprintf(" (pruned at epoch %d)", b.T.Epochs)
	}
	for _, p := range a.points {
		if p.Point.Point == b.T.Plan.Point && p.Diverged > 0 {
			bestText += fmt.Sprintf("; %d of %d repeats of this setting diverged", p.Diverged, len(p.Trials))
		}
	}
	return point, best, bestText
}

// pointsTable lists the grid points as 'sweep best' ranks them.
func (a *analysis) pointsTable() table {
	t := table{ID: "points", Header: []string{"rank", "setting", "point", a.metric.Name + " mean", "± std", "values / repeats", "against the best", "note", "best trial"}}
	for i, p := range a.points {
		row := []cell{intCell(i + 1), textCell(orDefault(p.Label, "–")), intCell(p.Point.Point), num(p.Mean), num(p.Std),
			cell{Text: fmt.Sprintf("%d / %d", p.N(), p.Repeats), Sort: strconv.Itoa(p.N()), Class: "n"},
			textCell(p.Verdict), textCell(p.Note())}
		if p.Best != nil {
			row = append(row, cell{Text: p.Best.T.Plan.ID, Sort: p.Best.T.Plan.ID, Href: "trials/" + p.Best.File + ".html"})
		} else {
			row = append(row, cell{Text: "–"})
		}
		if p.Class == results.Broken {
			row[0].Class = "n div"
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// sectionViews are the picture sections of the index, in order; a section
// without pictures or notes is left out.
func sectionViews(charts []chart, notes map[string][]string) (out []sectionView) {
	for _, s := range sections {
		sv := sectionView{ID: s.id, Title: s.title, Intro: s.intro, Notes: notes[s.id]}
		for _, c := range charts {
			if c.section == s.id {
				sv.Figures = append(sv.Figures, figView{c.file, c.alt, c.caption, c.fig.w, c.fig.h})
			}
		}
		if len(sv.Figures) > 0 || len(sv.Notes) > 0 {
			out = append(out, sv)
		}
	}
	return out
}

// trialsTable lists every trial with its varied settings and results.
func (a *analysis) trialsTable() table {
	tb := table{ID: "trials-table", Header: []string{"#", "trial", "point", "repeat"}}
	for _, k := range a.varied {
		tb.Header = append(tb.Header, shortKey(k))
	}
	tb.Header = append(tb.Header, "state", "stop reason", "epochs", "iterations", "seconds",
		"train loss", "val loss", "val accuracy", a.metric.Name+" (ranking)")
	for _, ti := range a.trials {
		t := ti.T
		row := []cell{intCell(t.Plan.Index), {Text: t.Plan.ID, Sort: t.Plan.ID, Href: "trials/" + ti.File + ".html"},
			intCell(t.Plan.Point), intCell(t.Plan.Repeat)}
		for _, k := range a.varied {
			pv, ok := t.Plan.Params[k]
			if !ok {
				row = append(row, cell{Text: "–"})
				continue
			}
			if f, isNum := toFloat(pv); isNum {
				if _, isStr := pv.(string); !isStr {
					row = append(row, cell{Text: fmtParam(pv), Sort: strconv.FormatFloat(f, 'g', -1, 64), Class: "n"})
					continue
				}
			}
			row = append(row, textCell(fmtParam(pv)))
		}
		st := textCell(string(t.Status))
		st.Class = "st-" + safeName(string(t.Status))
		row = append(row, st, textCell(t.StopReason), intCell(t.Epochs), intCell(t.Iterations), num(t.Seconds),
			num(t.Final.TrainLoss), num(t.Final.ValLoss), num(t.Final.ValAccuracy), num(ti.Metric))
		tb.Rows = append(tb.Rows, row)
	}
	return tb
}

func writeTrialPage(dir string, a *analysis, ti *trialInfo, prev, next *trialInfo) error {
	t := ti.T
	v := trialView{Sweep: a.d.Info.Name, ID: t.Plan.ID, Status: string(t.Status), Error: t.Error,
		Up: &linkView{"back to the sweep", "../index.html"}}
	v.Title = orDefault(ti.Label, "trial")
	if prev != nil {
		v.Prev = &linkView{prev.T.Plan.ID, prev.File + ".html"}
	}
	if next != nil {
		v.Next = &linkView{next.T.Plan.ID, next.File + ".html"}
	}
	f := func(x float64) string {
		if math.IsNaN(x) {
			return "–"
		}
		return fmtNum(x)
	}
	v.Facts = []kv{
		{"state", string(t.Status)}, {"stop reason", orDefault(t.StopReason, "–")},
		{"index · point · repeat", fmt.Sprintf("%d · %d · %d", t.Plan.Index, t.Plan.Point, t.Plan.Repeat)},
		{"seed", strconv.FormatUint(t.Plan.Seed, 10)},
		{"epochs", strconv.Itoa(t.Epochs)}, {"iterations", thousands(int64(t.Iterations))},
		{"samples", thousands(int64(t.Samples))}, {"seconds", seconds(t.Seconds)},
		{"final train loss", f(t.Final.TrainLoss)}, {"final val loss", f(t.Final.ValLoss)},
		{"final train accuracy", f(t.Final.TrainAccuracy)}, {"final val accuracy", f(t.Final.ValAccuracy)},
		{"best val loss", f(t.BestValLoss)}, {"time to target", f(t.TimeToTarget)},
		{a.metric.Name + " (ranking)", f(ti.Metric)},
	}
	if t.Status == framework.Diverged || t.DivergedIteration > 0 {
		v.Facts = append(v.Facts, kv{"diverged at iteration", strconv.Itoa(t.DivergedIteration)},
			kv{"last finite batch loss", f(t.LastFiniteLoss)})
	}
	for _, k := range sortedKeys(t.Plan.Params) {
		v.Params = append(v.Params, kv{k, fmtParam(t.Plan.Params[k])})
	}
	v.Figures = trialFigures(ti)
	v.Epochs = table{ID: "epochs", Header: []string{"epoch", "iteration", "samples", "train loss", "val loss", "train accuracy", "val accuracy", "seconds", "epoch seconds"}}
	for _, e := range t.EpochSeries {
		v.Epochs.Rows = append(v.Epochs.Rows, []cell{intCell(e.Epoch), intCell(e.Iteration), intCell(e.Samples),
			num(e.TrainLoss), num(e.ValLoss), num(e.TrainAccuracy), num(e.ValAccuracy), num(e.Seconds), num(e.EpochSeconds)})
	}
	for _, p := range a.points {
		if p.Point.Point != t.Plan.Point {
			continue
		}
		for _, o := range p.Trials {
			if o != ti {
				v.Repeats = append(v.Repeats, linkView{fmt.Sprintf("%s (repeat %d, %s)", o.T.Plan.ID, o.T.Plan.Repeat, o.T.Status), o.File + ".html"})
			}
		}
	}
	return execute(filepath.Join(dir, "trials", ti.File+".html"), "trial", v)
}

// trialFigures are the pictures of a trial's page, with their captions:
// the only ones drawn are those the trial has data for.
func trialFigures(ti *trialInfo) []figView {
	t := ti.T
	var figs []figView
	if ti.EpochPNG != "" {
		c := strings.Join(append([]string{"Train and validation loss per epoch."}, ti.EpochNotes...), " ")
		figs = append(figs, figView{strings.TrimPrefix(ti.EpochPNG, "trials/"), "loss per epoch", c, 0, 0})
	}
	if ti.BatchPNG != "" {
		c := "Batch loss of every recorded weight update (SGD's noisy descent)."
		if t.Status == framework.Diverged && t.DivergedIteration > 0 {
			c += fmt.Sprintf(" In red, the last losses recorded before the blow-up at iteration %d (×).", t.DivergedIteration)
		}
		if len(t.BatchLoss) > maxPlotPoints {
			c += fmt.Sprintf(" %d points drawn as the min and max of %d buckets.", len(t.BatchLoss), maxPlotPoints/2)
		}
		c = strings.Join(append([]string{c}, ti.BatchNotes...), " ")
		figs = append(figs, figView{strings.TrimPrefix(ti.BatchPNG, "trials/"), "batch loss per iteration", c, 0, 0})
	}
	if ti.RatePNG != "" {
		figs = append(figs, figView{strings.TrimPrefix(ti.RatePNG, "trials/"), "learning rate per iteration",
			"The learning rate of every recorded weight update, as training.schedule varied it.", 0, 0})
	}
	if ti.FlowPNG != "" {
		figs = append(figs, figView{strings.TrimPrefix(ti.FlowPNG, "trials/"), "gradient flow",
			"The gradient norm ‖∇W‖ of each dense layer (numbered as in the model) at the first update and every record.layer_stats_every-th: backpropagation multiplies the gradient by one factor per layer on its way down, so a vanishing gradient shows as the first layers' lines far below the last one's. The table layer_stats also holds ‖W‖, ‖ΔW‖/‖W‖ and the fraction of dead or saturated units.", 0, 0})
	}
	if ti.BoundaryPNG != "" {
		figs = append(figs, figView{strings.TrimPrefix(ti.BoundaryPNG, "trials/"), "decision boundary",
			"The class the final model predicts over the region of the training data (light colours), the training samples in their class's colour, and the misclassified ones crossed. The model comes from training the trial again from its stored settings (same seed: the run's weights to the bit).", 0, 0})
	}
	if ti.PathPNG != "" {
		figs = append(figs, figView{strings.TrimPrefix(ti.PathPNG, "trials/"), "path on the test function",
			"The point before training (○), after each gradient step, and at the end (■), over the function's contour lines (log-spaced levels). The path comes from training the trial again from its stored settings (same seed: the run's weights to the bit).", 0, 0})
	}
	return figs
}

func execute(path, name string, v any) error {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, v); err != nil {
		return fmt.Errorf("report: %s: %w", name, err)
	}
	if err := replaceFile(path, buf.Bytes()); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

var templates = template.Must(template.New("").Parse(`
{{define "css"}}<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0;background:#fafafa}
main{max-width:1440px;margin:0 auto;padding:12px 24px 48px}
h1{font-size:24px;margin:12px 0 4px;word-break:break-all}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;margin:0 0 8px}.meta span{margin-right:14px}
nav a{margin-right:12px}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums}
table.kv th{background:#f3f3f3;font-weight:600}
table.sortable th{background:#eef2f7;cursor:pointer;user-select:none;position:sticky;top:0}
table.sortable th:hover{background:#dde6f0}
table.sortable th[aria-sort=ascending]::after{content:" \25B2"}
table.sortable th[aria-sort=descending]::after{content:" \25BC"}
tbody tr:nth-child(even){background:#f8f8f8}
.scroll{overflow-x:auto;max-width:100%}
.st-diverged,.div{color:#b00000;font-weight:600}.st-failed{color:#b00000}.st-pruned{color:#8a6d00}.st-completed{color:#1b6e1b}
figure{margin:12px 0 20px;background:#fff;border:1px solid #e3e3e3;padding:8px;display:inline-block;max-width:100%;box-sizing:border-box}
figure img{max-width:100%;height:auto;display:block}
figcaption{color:#555;font-size:13px;margin-top:4px}
.note{color:#8a6d00}
.best{background:#eef7ee;border:1px solid #cfe5cf;padding:8px 12px}
pre{background:#fff;border:1px solid #ddd;padding:10px;overflow:auto;max-height:480px;font-size:12.5px}
.err{color:#b00000;white-space:pre-wrap}
</style>{{end}}

{{define "sortjs"}}<script>
(function () {
  function key(row, col) {
    var c = row.cells[col];
    if (!c) { return ""; }
    var v = c.getAttribute("data-v");
    return v === null ? c.textContent.trim() : v;
  }
  function isNum(s) { return s !== "" && isFinite(Number(s)); }
  function compare(a, b) {
    if (isNum(a) && isNum(b)) { return Number(a) - Number(b); }
    return a.localeCompare(b, undefined, {numeric: true, sensitivity: "base"});
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r, i) { r.setAttribute("data-i", i); });
    Array.prototype.forEach.call(heads, function (th, col) {
      th.tabIndex = 0;
      th.title = "sort";
      function sort() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var a = key(r1, col), b = key(r2, col);
          var c;
          if (a === "" || b === "") {
            c = (a === "" ? 1 : 0) - (b === "" ? 1 : 0);
          } else {
            c = compare(a, b);
            if (!asc) { c = -c; }
          }
          if (c === 0) { c = Number(r1.getAttribute("data-i")) - Number(r2.getAttribute("data-i")); }
          return c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  });
})();
</script>{{end}}

{{define "table"}}<div class="scroll"><table class="sortable" id="{{.ID}}">
<thead><tr>{{range .Header}}<th scope="col">{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr>{{range .}}<td{{if .Class}} class="{{.Class}}"{{end}}{{if .Sort}} data-v="{{.Sort}}"{{else}} data-v=""{{end}}>{{if .Href}}<a href="{{.Href}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}</td>{{end}}</tr>
{{- end}}
</tbody></table></div>{{end}}

{{define "figure"}}<figure><a href="{{.Src}}"><img src="{{.Src}}" alt="{{.Alt}}"{{if .W}} width="{{.W}}" height="{{.H}}"{{end}}></a>{{if .Caption}}<figcaption>{{.Caption}}</figcaption>{{end}}</figure>
{{end}}

{{define "index"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Name}} · gradsweep report</title>
{{template "css"}}
</head><body><main>
<h1 id="sweep-name">{{.Name}}</h1>
<p class="meta">{{range .Meta}}<span><b>{{.K}}</b> {{.V}}</span>{{end}}</p>
{{if .MetricNote}}<p class="note">{{.MetricNote}}</p>{{end}}
{{range .Failed}}<p class="err">picture could not be drawn: {{.}}</p>{{end}}
<nav><a href="#summary">Summary</a><a href="#best-settings">Best settings</a>{{range .Sections}}<a href="#{{.ID}}">{{.Title}}</a>{{end}}<a href="#all-trials">All trials</a><a href="#experiment">Experiment file</a><a href="trials.csv">trials.csv</a><a href="trials.json">trials.json</a></nav>

<h2 id="summary">Summary</h2>
<table class="kv">{{range .Summary}}<tr><th>{{.K}}</th><td>{{.V}}</td></tr>{{end}}</table>
<p class="best">Best setting: {{.BestPoint}}{{if .Best}}<br>Best single trial: <a id="best-trial" href="{{.Best.Href}}">{{.Best.Text}}</a> ({{.BestText}}){{end}}</p>

<h2 id="best-settings">Best settings</h2>
<p>Grid points ranked by the mean of {{.Metric}} over their repeats; points where some repeats diverged come after the stable ones, points without a result and points where every repeat diverged come last. Click a column to sort.</p>
{{template "table" .Points}}

{{range .Sections}}
<h2 id="{{.ID}}">{{.Title}}</h2>
<p>{{.Intro}}</p>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{range .Figures}}{{template "figure" .}}{{end}}
{{end}}

<h2 id="all-trials">All trials</h2>
<p>Click a column header to sort (again to reverse); each trial links to its page with its pictures and epoch table.</p>
{{template "table" .Trials}}

<h2 id="experiment">Experiment file</h2>
{{if .Config}}<pre id="config">{{.Config}}</pre>{{else}}<p>(not recorded)</p>{{end}}
</main>
{{template "sortjs"}}
</body></html>
{{end}}

{{define "trial"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.ID}} · {{.Sweep}}</title>
{{template "css"}}
</head><body><main>
<nav>{{with .Up}}<a href="{{.Href}}">↑ {{.Text}}</a>{{end}}{{with .Prev}}<a href="{{.Href}}">← {{.Text}}</a>{{end}}{{with .Next}}<a href="{{.Href}}">{{.Text}} →</a>{{end}}</nav>
<h1 id="trial-id">{{.ID}}</h1>
<p class="meta"><span><b>sweep</b> {{.Sweep}}</span><span><b>setting</b> {{.Title}}</span></p>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<h2>Outcome</h2>
<table class="kv">{{range .Facts}}<tr><th>{{.K}}</th><td>{{.V}}</td></tr>{{end}}</table>
{{if .Repeats}}<p>Other repeats of this setting: {{range $i, $r := .Repeats}}{{if $i}}, {{end}}<a href="{{$r.Href}}">{{$r.Text}}</a>{{end}}</p>{{end}}
<h2>Pictures</h2>
{{range .Figures}}{{template "figure" .}}{{else}}<p>No finite loss was recorded.</p>{{end}}
<h2>Epochs</h2>
{{if .Epochs.Rows}}{{template "table" .Epochs}}{{else}}<p>No epoch finished.</p>{{end}}
<h2>Settings</h2>
<table class="kv">{{range .Params}}<tr><th>{{.K}}</th><td>{{.V}}</td></tr>{{end}}</table>
</main>
{{template "sortjs"}}
</body></html>
{{end}}
`))
