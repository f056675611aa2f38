package report

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/gradsweep/gradsweep/framework"
)

// browser is a headless Chromium tab that records console errors,
// exceptions, failed loads and dialogs.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
	dialogs  []string
}

func (b *browser) take() (problems, dialogs []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	problems, dialogs = b.problems, b.dialogs
	b.problems, b.dialogs = nil, nil
	return
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Skip("Chromium is not installed (/usr/bin/chromium, Debian package chromium): skipping the browser test; CI installs it")
	return ""
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, tcancel := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { tcancel(); cancel(); acancel() })
	b := &browser{ctx: ctx}
	// Start the browser and the tab, then watch the console and dialogs.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	}()
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
			b.mu.Unlock()
			// Close it, or the page stays blocked.
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return b
}

// open loads a page and waits for its images to finish (load or fail).
func (b *browser) open(t *testing.T, path string) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b.ctx, chromedp.Navigate("file://"+abs), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	_, err = chromedp.Run(b.ctx, chromedp.Evaluate[int](`Promise.all(Array.from(document.images).map(function (i) {
		return i.complete ? 0 : new Promise(function (r) { i.addEventListener("load", r); i.addEventListener("error", r); });
	})).then(function (a) { return a.length; })`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("waiting for the images of %s: %v", path, err)
	}
	time.Sleep(200 * time.Millisecond) // let late console messages arrive
}

// issues lists console errors, exceptions, failed loads, dialogs and
// images that did not load, and a wrong image count.
func (b *browser) issues(t *testing.T, wantImages int) []string {
	t.Helper()
	var out []string
	broken, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.images)
		.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
		.map(function (i) { return i.getAttribute("src"); })`))
	if err != nil {
		t.Fatal(err)
	}
	if len(broken) > 0 {
		out = append(out, fmt.Sprintf("images not loaded: %v", broken))
	}
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.images.length`))
	if err != nil {
		t.Fatal(err)
	}
	if n != wantImages {
		out = append(out, fmt.Sprintf("%d images, want %d", n, wantImages))
	}
	problems, dialogs := b.take()
	for _, p := range problems {
		out = append(out, "console: "+p)
	}
	for _, d := range dialogs {
		out = append(out, "a dialog opened: "+d)
	}
	return out
}

func (b *browser) checkClean(t *testing.T, page string, wantImages int) {
	t.Helper()
	for _, is := range b.issues(t, wantImages) {
		t.Errorf("%s: %s", page, is)
	}
}

func (b *browser) firstColumn(t *testing.T, table string) []string {
	t.Helper()
	col, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#`+table+` tbody tr"))
		.map(function (r) { return r.cells[0].textContent; })`))
	if err != nil {
		t.Fatal(err)
	}
	return col
}

func (b *browser) click(t *testing.T, sel string) {
	t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// expectedOrder is the order of the trials' indices when the table is
// sorted by the ranking metric: empty values last in both directions,
// ties in table order.
func expectedOrder(d *framework.SweepData, asc bool) []string {
	type row struct {
		idx int
		v   float64
	}
	var rows []row
	for _, t := range d.Trials {
		v := t.Final.ValLoss
		if t.Status == framework.Diverged || t.Status == framework.Failed || math.IsInf(v, 0) {
			v = math.NaN()
		}
		rows = append(rows, row{t.Plan.Index, v})
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		an, bn := math.IsNaN(a.v), math.IsNaN(b.v)
		switch {
		case an && bn:
			return 0
		case an:
			return 1
		case bn:
			return -1
		}
		c := 0
		if a.v < b.v {
			c = -1
		} else if a.v > b.v {
			c = 1
		}
		if !asc {
			c = -c
		}
		return c
	})
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strconv.Itoa(r.idx)
	}
	return out
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	b := newBrowser(t)

	t.Run("index", func(t *testing.T) {
		d := goldenSweep()
		dir := writeReport(t, d, goldenOptions)
		b.open(t, filepath.Join(dir, "index.html"))
		b.checkClean(t, "index.html", 13) // 11 pictures, importance.png and pareto.png

		// The best trial, found here independently: lowest final val_loss
		// among trials that did not diverge or fail.
		best, bestV := "", math.Inf(1)
		for _, tr := range d.Trials {
			if tr.Status != framework.Diverged && tr.Status != framework.Failed && tr.Final.ValLoss < bestV {
				best, bestV = tr.Plan.ID, tr.Final.ValLoss
			}
		}
		got, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#best-trial")))
		if err != nil {
			t.Fatal(err)
		}
		if got != best {
			t.Errorf("best trial on the page %q, want %q", got, best)
		}

		// Sorting: the table starts in trial order; a click on the metric
		// column sorts ascending, another click descending; a click on "#"
		// sorts by index.
		before := b.firstColumn(t, "trials-table")
		want := make([]string, len(d.Trials))
		for i := range want {
			want[i] = strconv.Itoa(i)
		}
		if !slices.Equal(before, want) {
			t.Fatalf("initial order %v", before)
		}
		metricCol := "#trials-table thead th:last-child"
		b.click(t, metricCol)
		if got, want := b.firstColumn(t, "trials-table"), expectedOrder(d, true); !slices.Equal(got, want) {
			t.Errorf("after sorting by the metric:\n got %v\nwant %v", got, want)
		}
		b.click(t, metricCol)
		if got, want := b.firstColumn(t, "trials-table"), expectedOrder(d, false); !slices.Equal(got, want) {
			t.Errorf("after sorting by the metric descending:\n got %v\nwant %v", got, want)
		}
		b.click(t, "#trials-table thead th:first-child")
		if got := b.firstColumn(t, "trials-table"); !slices.Equal(got, before) {
			t.Errorf("after sorting by #: %v", got)
		}
		b.click(t, "#trials-table thead th:first-child")
		if got := b.firstColumn(t, "trials-table"); got[0] != "35" || got[35] != "0" {
			t.Errorf("after sorting by # descending: %v", got)
		}

		if path := os.Getenv("REPORT_SCREENSHOT"); path != "" {
			if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(1280, 1000)); err != nil {
				t.Fatal(err)
			}
			b.open(t, filepath.Join(dir, "index.html"))
			shot, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, shot, 0o644); err != nil {
				t.Fatal(err)
			}
			full, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(70))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+".full.jpg", full, 0o644); err != nil {
				t.Fatal(err)
			}
			b.take()
		}

		// A trial page: its two pictures load, its table sorts.
		b.open(t, filepath.Join(dir, "trials", "t012.html"))
		b.checkClean(t, "trials/t012.html", 2)
		if path := os.Getenv("REPORT_SCREENSHOT"); path != "" {
			shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(80))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+".trial.jpg", shot, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b.open(t, filepath.Join(dir, "trials", "t000.html"))
		b.checkClean(t, "trials/t000.html", 2)
		b.click(t, "#epochs thead th:first-child")
		b.click(t, "#epochs thead th:first-child")
		if got := b.firstColumn(t, "epochs"); len(got) != 8 || got[0] != "8" {
			t.Errorf("epoch table after two clicks on epoch: %v", got)
		}
	})

	t.Run("checks catch problems", func(t *testing.T) {
		dir := t.TempDir()
		bad := `<!DOCTYPE html><html><body><img src="missing.png"><img src="data:image/png;base64,AAAA">` +
			`<script>console.error("oops"); alert("hi");</script><script>throw new Error("boom")</script></body></html>`
		if err := os.WriteFile(filepath.Join(dir, "bad.html"), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		b.open(t, filepath.Join(dir, "bad.html"))
		got := strings.Join(b.issues(t, 2), "\n")
		for _, want := range []string{"images not loaded: [missing.png data:image/png;base64,AAAA]", "oops", "boom", "a dialog opened: alert: hi", "missing.png"} {
			if !strings.Contains(got, want) {
				t.Errorf("the checks missed %q; they found:\n%s", want, got)
			}
		}
	})

	t.Run("xss", func(t *testing.T) {
		d := goldenSweep()
		name := "<script>alert(1)</script>"
		d.Info.Name = name
		d.Info.Config = "name: x\n</pre><script>alert(2)</script><img src=x onerror=alert(3)>"
		d.Trials[0].Error = `<img src=x onerror="alert(4)">`
		d.Trials[0].Plan.Params["optimizer.type"] = `<img src=y onerror=alert(5)>`
		dir := writeReport(t, d, Options{})
		b.open(t, filepath.Join(dir, "index.html"))
		shown, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("sweep-name").textContent`))
		if err != nil {
			t.Fatal(err)
		}
		if shown != name {
			t.Errorf("sweep name shown as %q, want the text %q", shown, name)
		}
		cfg, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("config").textContent`))
		if err != nil {
			t.Fatal(err)
		}
		if cfg != d.Info.Config {
			t.Errorf("experiment file shown as %q", cfg)
		}
		scripts, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.scripts.length`))
		if err != nil {
			t.Fatal(err)
		}
		if scripts != 1 {
			t.Errorf("%d script elements, want only the sorting script", scripts)
		}
		imgs, _ := filepath.Glob(filepath.Join(dir, "img", "*.png"))
		b.checkClean(t, "xss index.html", len(imgs))
		b.open(t, filepath.Join(dir, "trials", "t000.html"))
		b.checkClean(t, "xss trials/t000.html", 2)
	})
}
