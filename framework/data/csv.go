package data

import (
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// CSVOptions says how to turn a CSV table into a Dataset.
type CSVOptions struct {
	// Target is the name of the target column (required).
	Target string
	// Task is framework.Classification or framework.Regression (required).
	Task framework.Task
	// Features optionally selects and orders the feature columns; when
	// empty, every column except Target is a feature, in header order.
	Features []string
}

// LoadCSV reads a CSV file with ParseCSV, naming errors after path. A path
// ending in ".gz" is decompressed transparently (and its CRC checked). The
// path must name a regular file: a FIFO or a device is refused.
func LoadCSV(path string, opt CSVOptions) (*framework.Dataset, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("data: %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	return ParseCSV(r, path, opt)
}

// ParseCSV reads a comma-separated table (RFC 4180 quoting, as
// encoding/csv) whose first row is a header of column names. name is used
// in error messages and as the Dataset's Name.
//
// Feature values and regression targets must be finite numbers (surrounding
// spaces are ignored; empty cells, NaN, ±Inf and values beyond float32 range
// are errors). Classification targets are class names: if every one parses
// as an integer, classes are the distinct integers sorted numerically (so
// labels "0".."9" map to indices 0..9, and "07" is the same class as "7",
// named "7"); otherwise classes are the distinct strings in order of first
// appearance. Regression gives a one-column Y.
//
// Errors name the input, the line and the column, for example
//
//	data.csv:17: column "sepal_length": "abc" is not a number
//
// A record (the header included) longer than MaxLineBytes, more than
// MaxInputBytes of text, and a table larger than MaxBytes in memory are
// refused as soon as they are seen; cells and column names are clipped in
// messages.
//
// An empty input, a header without the target column (the error lists the
// header's columns), duplicate column names, rows with a different number of
// cells than the header, and a table with no data rows are errors.
func ParseCSV(r io.Reader, name string, opt CSVOptions) (*framework.Dataset, error) {
	if opt.Target == "" {
		return nil, fmt.Errorf("data: %s: CSVOptions.Target is empty", name)
	}
	if opt.Task != framework.Classification && opt.Task != framework.Regression {
		return nil, fmt.Errorf("data: %s: CSVOptions.Task must be %q or %q, got %q", name, framework.Classification, framework.Regression, opt.Task)
	}
	lr := newLimitedReader(r)
	cr := csv.NewReader(lr)
	cr.FieldsPerRecord = -1 // checked here, for a clearer message
	cr.ReuseRecord = true

	t := &csvTable{name: name, opt: opt, cr: cr}
	if err := t.readHeader(); err != nil {
		return nil, err
	}
	if err := t.chooseFeatures(); err != nil {
		return nil, err
	}
	if err := t.readRows(); err != nil {
		return nil, err
	}
	return t.dataset(), nil
}

// csvTable is a CSV table being parsed by ParseCSV.
type csvTable struct {
	name   string
	opt    CSVOptions
	cr     *csv.Reader
	cols   []string       // the header's column names
	index  map[string]int // column of each name
	target int            // the target's column
	feat   []int          // the feature columns, in order

	// Values go straight into chunked columns (no per-row allocation, no
	// growth copies); class labels are interned as first-appearance ids.
	// The only transient extra is the final copy into one flat slice, so
	// the peak is about twice the data, as MaxBytes documents.
	x      chunks[float32]
	y      chunks[float32] // regression
	labels chunks[int32]   // classification: ids in order of first appearance
	cs     classSet
	rows   int
}

// readHeader reads the column names and finds the target.
func (t *csvTable) readHeader() error {
	header, err := t.cr.Read()
	if err == io.EOF {
		return fmt.Errorf("data: %s: empty file (a header row is required)", t.name)
	}
	if err != nil {
		return csvErr(t.name, err)
	}
	t.cols = make([]string, len(header))
	t.index = make(map[string]int, len(header))
	for j, h := range header {
		h = strings.TrimSpace(h)
		if j == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // UTF-8 byte order mark
		}
		if h == "" {
			return fmt.Errorf("data: %s:1: column %d has an empty name", t.name, j+1)
		}
		if k, dup := t.index[h]; dup {
			return fmt.Errorf("data: %s:1: column name %q appears twice (columns %d and %d)", t.name, clip(h), k+1, j+1)
		}
		t.index[h] = j
		t.cols[j] = h
	}
	target, ok := t.index[t.opt.Target]
	if !ok {
		return fmt.Errorf("data: %s:1: no target column %q; the header has columns %s", t.name, clip(t.opt.Target), quoteList(t.cols))
	}
	t.target = target
	return nil
}

// chooseFeatures picks the feature columns: those of opt.Features, or
// every column but the target.
func (t *csvTable) chooseFeatures() error {
	if len(t.opt.Features) == 0 {
		for j := range t.cols {
			if j != t.target {
				t.feat = append(t.feat, j)
			}
		}
	} else {
		seen := make(map[string]bool, len(t.opt.Features))
		for _, f := range t.opt.Features {
			j, ok := t.index[f]
			switch {
			case !ok:
				return fmt.Errorf("data: %s:1: no feature column %q; the header has columns %s", t.name, clip(f), quoteList(t.cols))
			case j == t.target:
				return fmt.Errorf("data: %s: column %q is both the target and a feature", t.name, clip(f))
			case seen[f]:
				return fmt.Errorf("data: %s: feature column %q listed twice", t.name, clip(f))
			}
			seen[f] = true
			t.feat = append(t.feat, j)
		}
	}
	if len(t.feat) == 0 {
		return fmt.Errorf("data: %s: no feature columns (the header has only the target %q)", t.name, clip(t.opt.Target))
	}
	return nil
}

// readRows reads every data row, checking the table's size as it grows.
func (t *csvTable) readRows() error {
	for {
		rec, err := t.cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return csvErr(t.name, err)
		}
		if err := t.addRow(rec); err != nil {
			return err
		}
		t.rows++
		if err := checkSize(t.name, int64(t.rows), int64(len(t.feat)), t.cs.bytes); err != nil {
			line, _ := t.cr.FieldPos(0)
			return fmt.Errorf("data: %s:%d: %w", t.name, line, err)
		}
	}
	if t.rows == 0 {
		return fmt.Errorf("data: %s: no data rows after the header", t.name)
	}
	return nil
}

// addRow adds one record's features and target.
func (t *csvTable) addRow(rec []string) error {
	name, cols, target := t.name, t.cols, t.target
	line, _ := t.cr.FieldPos(0)
	if len(rec) != len(cols) {
		return fmt.Errorf("data: %s:%d: row has %d cells, the header has %d columns", name, line, len(rec), len(cols))
	}
	for _, j := range t.feat {
		v, err := parseValue(rec[j])
		if err != nil {
			l, _ := t.cr.FieldPos(j)
			return fmt.Errorf("data: %s:%d: column %q: %q %v", name, l, clip(cols[j]), clip(rec[j]), err)
		}
		t.x.add(v)
	}
	if t.opt.Task == framework.Regression {
		v, err := parseValue(rec[target])
		if err != nil {
			l, _ := t.cr.FieldPos(target)
			return fmt.Errorf("data: %s:%d: column %q (regression target): %q %v", name, l, clip(cols[target]), clip(rec[target]), err)
		}
		t.y.add(v)
		return nil
	}
	s := strings.TrimSpace(rec[target])
	if s == "" {
		l, _ := t.cr.FieldPos(target)
		return fmt.Errorf("data: %s:%d: column %q: empty class label", name, l, clip(cols[target]))
	}
	t.labels.add(t.cs.id(s))
	return nil
}

// dataset is the parsed table.
func (t *csvTable) dataset() *framework.Dataset {
	d := &framework.Dataset{
		Name: t.name,
		Task: t.opt.Task,
		X:    &mat.Matrix{Rows: t.rows, Cols: len(t.feat), Data: t.x.flat()},
	}
	d.Features = make([]string, len(t.feat))
	for i, j := range t.feat {
		d.Features[i] = t.cols[j]
	}
	if t.opt.Task == framework.Regression {
		d.Y = &mat.Matrix{Rows: t.rows, Cols: 1, Data: t.y.flat()}
	} else {
		d.Labels = t.labels.flat()
		d.Classes = t.cs.encode(d.Labels)
	}
	return d
}

// chunks is an append-only column stored in chunks that grow from 1 Ki to
// 1 Mi values: appending never copies, and wastes at most one chunk.
type chunks[T any] struct {
	full [][]T // filled chunks
	cur  []T   // the chunk being filled
	n    int   // values in full
}

func (c *chunks[T]) add(v T) {
	if len(c.cur) == cap(c.cur) {
		size := 1 << 10
		if c.cur != nil {
			c.full = append(c.full, c.cur)
			c.n += len(c.cur)
			size = min(2*cap(c.cur), 1<<20)
		}
		c.cur = make([]T, 0, size)
	}
	c.cur = append(c.cur, v)
}

// flat returns the values in one slice of exactly their length, and
// drops the chunks.
func (c *chunks[T]) flat() []T {
	out := make([]T, 0, c.n+len(c.cur))
	for i, b := range c.full {
		out = append(out, b...)
		c.full[i] = nil // let the collector take it while copying on
	}
	out = append(out, c.cur...)
	*c = chunks[T]{}
	return out
}

// classSet interns class labels, numbering them in order of first
// appearance; encode turns those ids into the final class indices.
type classSet struct {
	id0   map[string]int32
	names []string // by first-appearance id
	ints  []int64  // names parsed as integers, until one is not
	// notInt is set once a name is not an integer
	notInt bool
	// bytes estimates the memory the distinct labels take, counted
	// against MaxBytes so that a column of distinct labels is bounded too
	bytes int64
}

// labelOverhead is a rough per-label cost beyond its bytes: the map entry,
// the names and ints slots.
const labelOverhead = 64

func (s *classSet) id(name string) int32 {
	if k, ok := s.id0[name]; ok {
		return k
	}
	if s.id0 == nil {
		s.id0 = map[string]int32{}
	}
	// a field shares its record's memory, which a label must not keep alive
	name = strings.Clone(name)
	k := int32(len(s.names))
	s.id0[name] = k
	s.names = append(s.names, name)
	if !s.notInt {
		if v, err := strconv.ParseInt(name, 10, 64); err == nil {
			s.ints = append(s.ints, v)
		} else {
			s.notInt, s.ints = true, nil
		}
	}
	s.bytes += int64(len(name)) + labelOverhead
	return k
}

// encode maps first-appearance ids in labels, in place, to class indices
// and returns the class names: if every label is an integer, classes are
// the distinct integers sorted numerically ("07" and "7" are one class,
// named "7"); otherwise the distinct names in order of first appearance.
func (s *classSet) encode(labels []int32) []string {
	if s.notInt {
		return s.names
	}
	distinct := slices.Clone(s.ints)
	slices.Sort(distinct)
	distinct = slices.Compact(distinct)
	classes := make([]string, len(distinct))
	for i, v := range distinct {
		classes[i] = strconv.FormatInt(v, 10)
	}
	remap := make([]int32, len(s.ints))
	for k, v := range s.ints {
		i, _ := slices.BinarySearch(distinct, v)
		remap[k] = int32(i)
	}
	for i, k := range labels {
		labels[i] = remap[k]
	}
	return classes
}

// parseValue parses one numeric cell; the error completes the sentence
// `"cell" ...`.
func parseValue(s string) (float32, error) {
	t := strings.TrimSpace(s)
	v, err := strconv.ParseFloat(t, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return 0, errors.New("is out of range")
		}
		return 0, errors.New("is not a number")
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errors.New("is not a finite number")
	}
	if math.Abs(v) > math.MaxFloat32 {
		return 0, errors.New("is out of float32 range")
	}
	return float32(v), nil
}

// csvErr rewrites an encoding/csv error as "name:line:byte: ..." (the
// position is where encoding/csv detected the problem).
func csvErr(name string, err error) error {
	var long *errLineTooLong
	if errors.As(err, &long) {
		return fmt.Errorf("data: %s:%d: %v", name, long.line, long)
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("data: %s:%d:%d: malformed CSV: %v", name, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("data: %s: %w", name, err)
}

// CSVSource is the data source `csv: PATH`: a CSV file with a header row
// (see ParseCSV), relative to the experiment file; gzipped if it ends in .gz.
type CSVSource struct {
	Path     string   `opt:"csv" required:"true" doc:"the file, relative to the experiment file"`
	Target   string   `opt:"target" required:"true" doc:"the target column"`
	Task     string   `opt:"task" default:"classification" enum:"classification,regression" doc:"what the target is"`
	Features []string `opt:"features" doc:"the feature columns, in order (default: every column but the target)"`
}

func init() {
	framework.Sources.Register(framework.Plugin[framework.DataSource]{Name: "csv",
		Doc: "a CSV file with a header row", New: func() framework.DataSource { return new(CSVSource) }})
}

// Files is the CSV file.
func (s *CSVSource) Files(env framework.DataEnv) ([]string, error) {
	return []string{inDir(env.Dir, s.Path)}, nil
}

// Load reads the file.
func (s *CSVSource) Load(env framework.DataEnv) (*framework.Dataset, error) {
	return LoadCSV(inDir(env.Dir, s.Path), CSVOptions{Target: s.Target, Task: framework.Task(s.Task), Features: s.Features})
}
