package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/store/sqlite"
)

// exportDir runs the small sweep and the diverging one (completed and
// diverged trials) into one database.
func exportDir(t *testing.T) string {
	t.Helper()
	dir := workdir(t, "small.yaml")
	if err := os.WriteFile(filepath.Join(dir, "div.yaml"), []byte(divergeYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"small.yaml", "div.yaml"} {
		if r := runCLI(t, dir, "run", f, "--quiet"); r.code != 0 {
			t.Fatal(r.stderr)
		}
	}
	return dir
}

// flatten lists a decoded trial record's fields as README names them:
// nested objects dotted, params as params.<key>, arrays as leaves.
func flatten(prefix string, v map[string]any, out map[string]any) {
	for k, x := range v {
		if m, ok := x.(map[string]any); ok {
			flatten(prefix+k+".", m, out)
			continue
		}
		out[prefix+k] = x
	}
}

// csvCell is how the CSV writes a decoded JSON value.
func csvCell(t *testing.T, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, e.(string))
		}
		return strings.Join(parts, " ")
	}
	t.Fatalf("unexpected JSON value %T %v", v, v)
	return ""
}

func decodeRecords(t *testing.T, text string) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var out []map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("%v: %s", err, text)
	}
	return out
}

// sameNumber reports whether CSV cell c and JSON number n are the same
// value (their texts may differ: 1e-05 and 0.00001).
func sameCell(c string, n any) bool {
	if num, ok := n.(json.Number); ok {
		a, err1 := strconv.ParseFloat(c, 64)
		b, err2 := strconv.ParseFloat(num.String(), 64)
		return err1 == nil && err2 == nil && a == b
	}
	return false
}

// One schema: sweep export's JSON and CSV are the report's trials.json and
// trials.csv byte for byte, and the CSV holds the JSON's fields (but the
// per-epoch series) under the same names with the same values.
func TestOneExportSchema(t *testing.T) {
	dir := exportDir(t)
	for _, sweepName := range []string{"small", "div"} {
		out := filepath.Join(dir, "report-"+sweepName)
		if r := runCLI(t, dir, "report", sweepName, "--out", out); r.code != 0 {
			t.Fatal(r.stderr)
		}
		js := runCLI(t, dir, "export", sweepName, "--format", "json")
		cs := runCLI(t, dir, "export", sweepName, "--format", "csv")
		if js.code != 0 || cs.code != 0 {
			t.Fatal(js.stderr, cs.stderr)
		}
		if got := readText(t, filepath.Join(out, "trials.json")); got != js.stdout {
			t.Errorf("%s: trials.json differs from export --format json", sweepName)
		}
		if got := readText(t, filepath.Join(out, "trials.csv")); got != cs.stdout {
			t.Errorf("%s: trials.csv differs from export --format csv", sweepName)
		}
		recs := decodeRecords(t, js.stdout)
		rows, err := csv.NewReader(strings.NewReader(cs.stdout)).ReadAll()
		if err != nil || len(rows) != len(recs)+1 {
			t.Fatalf("%s: %d CSV rows (%v) for %d records", sweepName, len(rows), err, len(recs))
		}
		states := map[any]bool{}
		for i, rec := range recs {
			states[rec["state"]] = true
			fields := map[string]any{}
			flatten("", rec, fields)
			var want []string
			for k := range fields {
				if !strings.HasPrefix(k, "metrics.") && k != "layer_stats" { // series: JSON only
					want = append(want, k)
				}
			}
			header := rows[0]
			got := slices.Clone(header)
			// a column of a setting this trial lacks is empty
			got = slices.DeleteFunc(got, func(c string) bool {
				_, ok := fields[c]
				return strings.HasPrefix(c, "params.") && !ok && rows[i+1][slices.Index(header, c)] == ""
			})
			sort.Strings(want)
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s trial %d: CSV columns %v, JSON fields %v", sweepName, i, got, want)
			}
			for c, col := range header {
				v, ok := fields[col]
				if !ok {
					continue
				}
				if cell := rows[i+1][c]; cell != csvCell(t, v) && !sameCell(cell, v) {
					t.Errorf("%s trial %d %s: CSV %q, JSON %v", sweepName, i, col, cell, v)
				}
			}
		}
		if sweepName == "div" && !(states["diverged"] && states["completed"]) {
			t.Errorf("div: states %v, want diverged and completed trials", states)
		}
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readmeRecordFields are the fields README's trial-record table lists.
func readmeRecordFields(t *testing.T) []string {
	t.Helper()
	r := readText(t, "../../README.md")
	start := strings.Index(r, "**Trial records.**")
	end := strings.Index(r[max(start, 0):], "The CSV has one row per trial")
	if start < 0 || end < 0 {
		t.Fatal("README lacks the trial records table")
	}
	var out []string
	for _, line := range strings.Split(r[start:start+end], "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(first, -1) {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// README's field list is the record's fields, and show --json prints
// every one of them for a completed and a diverged trial alike (null when
// it does not apply, never left out); every key of every JSON output is
// snake_case.
func TestRecordFieldsAsDocumented(t *testing.T) {
	dir := exportDir(t)
	doc := readmeRecordFields(t)
	for _, sweepName := range []string{"small", "div"} {
		for _, rec := range decodeRecords(t, runCLI(t, dir, "export", sweepName, "--format", "json").stdout) {
			show := runCLI(t, dir, "show", rec["id"].(string), "--json")
			var one map[string]any
			if err := json.Unmarshal([]byte(show.stdout), &one); err != nil {
				t.Fatal(err, show.stderr)
			}
			fields := map[string]any{}
			flatten("", one, fields)
			var got []string
			for k := range fields {
				if strings.HasPrefix(k, "params.") {
					k = "params.<key>"
				}
				if !slices.Contains(got, k) {
					got = append(got, k)
				}
			}
			sort.Strings(got)
			if !slices.Equal(got, doc) {
				t.Fatalf("%s: show --json of a %s trial has fields\n%v\nREADME lists\n%v", sweepName, one["state"], got, doc)
			}
		}
	}
	snake := regexp.MustCompile(`^[a-z0-9_.]+$`)
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if !snake.MatchString(k) {
					t.Errorf("%s: key %q is not snake_case", where, k)
				}
				walk(where, e)
			}
		case []any:
			for _, e := range x {
				walk(where, e)
			}
		}
	}
	for _, c := range []string{"list", "best small", "plugins", "show small", "export small --format"} {
		args := append(strings.Fields(c), "--json")
		if strings.HasPrefix(c, "export") {
			args = append(strings.Fields(c), "json")
		}
		r := runCLI(t, dir, args...)
		var v any
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Fatalf("%s: %v: %s", c, err, r.stderr)
		}
		walk(c, v)
	}
}

// show takes a unique prefix of a trial id (at least 4 characters); an
// ambiguous one is exit 2 and names the candidates.
func TestShowIDPrefix(t *testing.T) {
	dir := workdir(t, "small.yaml")
	if r := runCLI(t, dir, "run", "small.yaml", "--quiet"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	db := filepath.Join(dir, "sweeps.db")
	id := query(t, db, `SELECT id FROM trials ORDER BY idx LIMIT 1`)
	full := runCLI(t, dir, "show", id, "--json")
	if short := runCLI(t, dir, "show", id[:6], "--json"); short.code != 0 || short.stdout != full.stdout {
		t.Errorf("show %s: exit %d, %s", id[:6], short.code, short.stderr)
	}
	if r := runCLI(t, dir, "show", id[:3]); r.code != 2 || !strings.Contains(r.stderr, "at least 4") {
		t.Errorf("show %s: exit %d, %s", id[:3], r.code, r.stderr)
	}
	// two trials whose ids share a prefix
	st, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	info := framework.SweepInfo{Name: "twins", ConfigHash: "h", Metric: "val_loss"}
	plans := []framework.TrialPlan{{ID: "abcd1234", Sweep: "twins", Index: 0}, {ID: "abcd5678", Sweep: "twins", Index: 1, Point: 1}}
	if err := st.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	st.Close()
	r := runCLI(t, dir, "show", "abcd")
	if r.code != 2 || !strings.Contains(r.stderr, "ambiguous") || !strings.Contains(r.stderr, "abcd1234") || !strings.Contains(r.stderr, "abcd5678") {
		t.Errorf("show abcd: exit %d, %s", r.code, r.stderr)
	}
	if r := runCLI(t, dir, "show", "abcd5", "--json"); r.code != 0 || !strings.Contains(r.stdout, `"id": "abcd5678"`) {
		t.Errorf("show abcd5: exit %d, %s", r.code, r.stderr)
	}
	if r := runCLI(t, dir, "show", "ffff0000zz"); r.code != 2 {
		t.Errorf("show of no trial: exit %d", r.code)
	}
}

// The reports of the sweep command draw the moving average that README
// promises on every per-trial batch-loss picture (the CLI once passed
// report.Options{}, which draws none), and the caption says so.
func TestReportDrawsMovingAverage(t *testing.T) {
	dir := exportDir(t)
	out := filepath.Join(dir, "report-small")
	if r := runCLI(t, dir, "report", "small", "--out", out); r.code != 0 {
		t.Fatal(r.stderr)
	}
	pages, _ := filepath.Glob(filepath.Join(out, "trials", "*.html"))
	if len(pages) == 0 {
		t.Fatal("no trial pages")
	}
	for _, p := range pages {
		if page := readText(t, p); strings.Contains(page, "batch loss per iteration") && !strings.Contains(page, "moving average") {
			t.Errorf("%s: batch-loss picture without a moving average", filepath.Base(p))
		}
	}
}

// A --report folder that cannot be written is refused (exit 2) before
// anything trains: no database is written.
func TestRunRefusesAnUnwritableReportFolder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "small.yaml", mustRead(t, "testdata/small.yaml"))
	writeFile(t, dir, "taken", "a file")
	for _, c := range []struct{ flag, want string }{
		{"taken", "--report taken: taken is not a folder"},
		{"taken/report", "--report taken/report: taken is not a folder"},
	} {
		r := runCLI(t, dir, "run", "small.yaml", "--quiet", "--report", c.flag)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Fatalf("--report %s: exit %d, want 2 with %q:\n%s", c.flag, r.code, c.want, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "sweeps.db")); err == nil {
			t.Fatalf("--report %s: a database was written before the refusal", c.flag)
		}
	}
}

// What record.layer_stats_every stored reaches the user: show TRIAL
// prints a row per dense layer (first and last gradient norm, as stored),
// and --json (the trial record of export) carries every stored row.
func TestShowLayerStats(t *testing.T) {
	dir := t.TempDir()
	text := strings.Replace(mustRead(t, "testdata/small.yaml"), "repeats: 2", "repeats: 1\nrecord: {layer_stats_every: 10}", 1)
	writeFile(t, dir, "small.yaml", text)
	mustRun(t, dir, "run", "small.yaml", "--quiet")
	db := filepath.Join(dir, "sweeps.db")
	id := strings.Trim(query(t, db, `SELECT id FROM trials ORDER BY idx LIMIT 1`), `"`)
	out := mustRun(t, dir, "show", id).stdout
	for _, layer := range []string{"0", "2"} {
		first := query(t, db, `SELECT grad_norm FROM layer_stats WHERE trial = '`+id+`' AND layer = `+layer+` ORDER BY iteration LIMIT 1`)
		last := query(t, db, `SELECT grad_norm FROM layer_stats WHERE trial = '`+id+`' AND layer = `+layer+` ORDER BY iteration DESC LIMIT 1`)
		n := query(t, db, `SELECT count(*) FROM layer_stats WHERE trial = '`+id+`' AND layer = `+layer)
		f, _ := strconv.ParseFloat(first, 64)
		l, _ := strconv.ParseFloat(last, 64)
		row := regexp.MustCompile(`(?m)^` + layer + ` +` + n + ` +` + regexp.QuoteMeta(fmtFloat(f)) + ` +` + regexp.QuoteMeta(fmtFloat(l)) + ` `)
		if !strings.Contains(out, "layer statistics (record.layer_stats_every)") || !row.MatchString(out) {
			t.Fatalf("show %s: no row for layer %s (%s records, %s → %s):\n%s", id, layer, n, first, last, out)
		}
	}
	var rec struct {
		LayerStats []map[string]any `json:"layer_stats"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, dir, "show", id, "--json").stdout), &rec); err != nil {
		t.Fatal(err)
	}
	if got := strconv.Itoa(len(rec.LayerStats)); got != query(t, db, `SELECT count(*) FROM layer_stats WHERE trial = '`+id+`'`) {
		t.Fatalf("--json has %s layer_stats rows", got)
	}
}
