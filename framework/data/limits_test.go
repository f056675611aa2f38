package data

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A FIFO or a device as csv: is refused at once instead of blocking or
// reading forever.
func TestLoadCSVRefusesNonRegularFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe.csv")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	for _, p := range []string{fifo, "/dev/zero", t.TempDir()} {
		_, err := LoadCSV(p, cls)
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// zeros is an endless stream of zero bytes (like /dev/zero).
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// An endless line, or a gzip bomb expanding to one long line, stops at
// MaxLineBytes with the line, without reading everything into memory.
func TestCSVLineCap(t *testing.T) {
	var err error
	n := allocated(func() { _, err = ParseCSV(zeros{}, "zero.csv", cls) })
	if err == nil || !strings.Contains(err.Error(), "zero.csv:1: a record longer than 1.0 MiB") {
		t.Errorf("endless line: %v", err)
	}
	if n > 16<<20 {
		t.Errorf("an endless line allocated %d bytes", n)
	}

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("a,y\n1,2\n"))
	io.Copy(zw, io.LimitReader(zeros{}, 64<<20))
	zw.Close()
	p := filepath.Join(t.TempDir(), "bomb.csv.gz")
	if err := os.WriteFile(p, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	n = allocated(func() { _, err = LoadCSV(p, cls) })
	if err == nil || !strings.Contains(err.Error(), "bomb.csv.gz:3: a record longer than") {
		t.Errorf("gzip bomb: %v", err)
	}
	if n > 16<<20 {
		t.Errorf("a gzip bomb allocated %d bytes", n)
	}

	// a quoted field's newlines do not end the record
	defer func(m int) { MaxLineBytes = m }(MaxLineBytes)
	MaxLineBytes = 20
	_, err = ParseCSV(strings.NewReader("a,y\n\"1\n2\n3\n4\n5\n6\n7\n8\n9\",1\n"), "q.csv", cls)
	if err == nil || !strings.Contains(err.Error(), "q.csv:2: a record longer than 20 bytes") {
		t.Errorf("quoted newlines: %v", err)
	}
	if _, err = ParseCSV(strings.NewReader("a,y\n1,\"x\ny\"\n3,4\n"), "q.csv", cls); err != nil {
		t.Errorf("short records: %v", err)
	}
}

// MaxInputBytes bounds the decompressed text, blank lines included.
func TestCSVInputCap(t *testing.T) {
	defer func(m int64) { MaxInputBytes = m }(MaxInputBytes)
	MaxInputBytes = 1000
	src := "a,y\n1,2\n" + strings.Repeat("\n", 2000)
	if _, err := ParseCSV(strings.NewReader(src), "big.csv", cls); err == nil || !strings.Contains(err.Error(), "more than 1000 bytes of CSV text") {
		t.Errorf("input cap: %v", err)
	}
}

// MaxBytes bounds the table in memory, with the line that crossed it.
func TestCSVSizeCap(t *testing.T) {
	defer func(m int64) { MaxBytes = m }(MaxBytes)
	MaxBytes = 100 // 12 bytes a row: 8 rows fit
	reg := CSVOptions{Target: "y", Task: framework.Regression}
	src := "a,b,y\n" + strings.Repeat("1,2,0\n", 8)
	if _, err := ParseCSV(strings.NewReader(src), "t.csv", reg); err != nil {
		t.Fatalf("8 rows: %v", err)
	}
	_, err := ParseCSV(strings.NewReader(src+"1,2,0\n"), "t.csv", reg)
	if err == nil || !strings.Contains(err.Error(), "t.csv:10: t.csv would need about 108 bytes in memory (9 samples × 3 values, 4 bytes each); the limit is 100 bytes") {
		t.Errorf("too large: %v", err)
	}
}

// Distinct class labels count against MaxBytes: a column of long, all
// different labels cannot grow memory past the limit while the values stay
// small.
func TestCSVSizeCapCountsLabels(t *testing.T) {
	defer func(m int64) { MaxBytes = m }(MaxBytes)
	MaxBytes = 10000
	var b strings.Builder
	b.WriteString("a,y\n")
	for i := range 20 {
		fmt.Fprintf(&b, "1,%s%d\n", strings.Repeat("x", 1000), i)
	}
	_, err := ParseCSV(strings.NewReader(b.String()), "t.csv", cls)
	if err == nil || !strings.Contains(err.Error(), "t.csv:11: t.csv would need about") || !strings.Contains(err.Error(), "for its distinct class labels); the limit is") {
		t.Errorf("distinct labels: %v", err)
	}
	// the same rows with one label fit easily
	src := "a,y\n" + strings.Repeat("1,"+strings.Repeat("x", 1000)+"\n", 20)
	if _, err := ParseCSV(strings.NewReader(src), "t.csv", cls); err != nil {
		t.Errorf("one label: %v", err)
	}
}

// Loading a CSV table costs what MaxBytes assumes: it allocates at most
// maxAlloc bytes per value in all (the values, their one final copy, the
// CSV reader's buffers) and keeps about 4 bytes per value. Before values
// were parsed into chunked columns, labels kept as strings and slices grown
// by append, it allocated about 60 bytes per value.
func TestCSVLoadingMemoryPerValue(t *testing.T) {
	const (
		rows     = 1 << 20
		maxAlloc = 16 // bytes per value, in all
		maxKept  = 5  // bytes per value, held by the result
	)
	for _, c := range []struct {
		name, header, row string
		opt               CSVOptions
	}{
		{"classification", "a,y\n", "1,0\n", cls},
		{"regression-3", "a,b,c,y\n", "1,2.5,-3,0.25\n", CSVOptions{Target: "y", Task: framework.Regression}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := []byte(c.header + strings.Repeat(c.row, rows))
			values := float64(rows * strings.Count(c.row, ","))
			values += rows // the target
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			d, err := ParseCSV(bytes.NewReader(src), "mem.csv", c.opt)
			if err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			alloc := float64(after.TotalAlloc-before.TotalAlloc) / values
			runtime.GC()
			runtime.ReadMemStats(&after)
			kept := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / values
			runtime.KeepAlive(d)
			runtime.KeepAlive(src)
			t.Logf("%.0f values: %.2f bytes allocated and %.2f kept per value", values, alloc, kept)
			if d.Len() != rows {
				t.Fatalf("%d rows, want %d", d.Len(), rows)
			}
			if alloc > maxAlloc {
				t.Errorf("loading allocated %.2f bytes per value, more than %d", alloc, maxAlloc)
			}
			if kept > maxKept {
				t.Errorf("the data set keeps %.2f bytes per value, more than %d", kept, maxKept)
			}
		})
	}
}

// A huge header or cell is clipped in messages.
func TestCSVMessagesAreClipped(t *testing.T) {
	long := strings.Repeat("x", 500_000)
	cases := []string{
		long + ",b\n1,2\n",               // no target column, header listed
		"a,y\n" + long + ",1\n",          // not a number
		strings.Repeat("c,", 5000) + "y", // many columns, target missing
	}
	for i, src := range cases {
		opt := cls
		if i != 1 {
			opt.Target = "z"
		}
		_, err := ParseCSV(strings.NewReader(src), "h.csv", opt)
		if err == nil || len(err.Error()) > 2000 {
			t.Errorf("case %d: %d bytes of message", i, len(err.Error()))
		}
	}
}
