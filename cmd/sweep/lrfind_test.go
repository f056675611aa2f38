package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sweep lrfind: the same file and seed print byte-identical JSON, whose
// arrays line up; the text names both suggestions; --grid prints a
// snippet that an experiment file takes as it is; --out draws the picture.
func TestLRFind(t *testing.T) {
	dir := workdir(t, "small.yaml")
	a := runCLI(t, dir, "lrfind", "small.yaml", "--json")
	b := runCLI(t, dir, "lrfind", "--json", "small.yaml")
	if a.code != 0 || b.code != 0 {
		t.Fatalf("exit %d, %d\n%s%s", a.code, b.code, a.stderr, b.stderr)
	}
	if a.stdout != b.stdout {
		t.Fatal("two runs of the same file and seed print different JSON")
	}
	var j struct {
		Seeds         []uint64  `json:"seeds"`
		LearningRates []float64 `json:"learning_rates"`
		Losses        []float64 `json:"losses"`
		Smoothed      []float64 `json:"smoothed"`
		Suggestion    struct {
			Steepest  float64 `json:"steepest"`
			MinOver10 float64 `json:"min_over_10"`
		} `json:"suggestion"`
		StoppedAt  float64           `json:"stopped_at"`
		StopReason string            `json:"stop_reason"`
		Runs       []json.RawMessage `json:"runs"`
		Band       *struct{ Min, Max []float64 }
	}
	if err := json.Unmarshal([]byte(a.stdout), &j); err != nil {
		t.Fatal(err)
	}
	n := len(j.LearningRates)
	if n < 2 || len(j.Losses) != n || len(j.Smoothed) != n || j.StoppedAt != j.LearningRates[n-1] || j.LearningRates[0] != 1e-7 ||
		!(j.Suggestion.Steepest > 0) || !(j.Suggestion.MinOver10 > 0) || j.StopReason == "" || len(j.Seeds) != 1 || j.Runs != nil || j.Band != nil {
		t.Errorf("JSON: %s", a.stdout)
	}

	r := runCLI(t, dir, "lrfind", "small.yaml", "--repeats", "2", "--json")
	j.Runs, j.Band = nil, nil
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || r.code != 0 {
		t.Fatalf("--repeats 2: exit %d, %v\n%s", r.code, err, r.stderr)
	}
	if len(j.Runs) != 2 || len(j.Seeds) != 2 || j.Band == nil || len(j.Band.Min) != len(j.Smoothed) {
		t.Errorf("--repeats 2: %d runs, %d seeds, band %v", len(j.Runs), len(j.Seeds), j.Band != nil)
	}

	out := filepath.Join(dir, "pics")
	r = runCLI(t, dir, "lrfind", "small.yaml", "--grid", "4", "--out", out)
	if r.code != 0 || !strings.Contains(r.stdout, "steepest descent: ") || !strings.Contains(r.stdout, "minimum / 10: ") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	png, err := os.ReadFile(filepath.Join(out, "lrfind.png"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("no lrfind.png: %v", err)
	}
	_, snippet, ok := strings.Cut(r.stdout, "grid:\n")
	snippet, _, _ = strings.Cut(snippet, "\nwrote ")
	if !ok || strings.Count(snippet, ",") != 3 {
		t.Fatalf("no grid snippet of 4 rates:\n%s", r.stdout)
	}
	src, _ := os.ReadFile(filepath.Join(dir, "small.yaml"))
	head, _, _ := strings.Cut(string(src), "grid:\n")
	pasted := head + "grid:\n" + snippet + "\n"
	if err := os.WriteFile(filepath.Join(dir, "pasted.yaml"), []byte(pasted), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, dir, "validate", "pasted.yaml"); r.code != 0 || !strings.Contains(r.stdout, "4 grid points") {
		t.Errorf("the pasted grid does not validate: exit %d\n%s%s\n%s", r.code, r.stdout, r.stderr, pasted)
	}
}

// Bad input exits 2 and says what is wrong; an I/O error exits 1.
func TestLRFindBadInput(t *testing.T) {
	dir := workdir(t, "small.yaml")
	bad := strings.Replace(mustRead(t, filepath.Join(dir, "small.yaml")), "units: 2}", "units: 2, nonsense: 1}", 1)
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "afile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"small.yaml", "--min", "1", "--max", "1"}, 2, "--min 1 must be below --max 1"},
		{[]string{"small.yaml", "--min", "0"}, 2, "--min 0: must be a positive number"},
		{[]string{"small.yaml", "--max", "-3"}, 2, "--max -3: must be a positive number"},
		{[]string{"small.yaml", "--iterations", "1"}, 2, "--iterations 1: want 2 to"},
		{[]string{"small.yaml", "--repeats", "0"}, 2, "--repeats 0: want 1 to"},
		{[]string{"small.yaml", "--grid", "-1"}, 2, "--grid -1"},
		{[]string{"small.yaml", "--repeats", "11", "--iterations", "100000"}, 2, "makes more than 1000000 updates"},
		{[]string{"missing.yaml"}, 2, "missing.yaml"},
		{[]string{"bad.yaml"}, 2, "bad.yaml:7: model.2.nonsense"},
		{[]string{}, 2, "lrfind"},
		{[]string{"small.yaml", "--out", filepath.Join(dir, "afile")}, 1, "afile"},
	} {
		r := runCLI(t, dir, append([]string{"lrfind"}, c.args...)...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s", c.args, r.code, c.code, c.want, r.stderr)
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
