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

	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("data: %s: empty file (a header row is required)", name)
	}
	if err != nil {
		return nil, csvErr(name, err)
	}
	cols := make([]string, len(header))
	index := make(map[string]int, len(header))
	for j, h := range header {
		h = strings.TrimSpace(h)
		if j == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // UTF-8 byte order mark
		}
		if h == "" {
			return nil, fmt.Errorf("data: %s:1: column %d has an empty name", name, j+1)
		}
		if k, dup := index[h]; dup {
			return nil, fmt.Errorf("data: %s:1: column name %q appears twice (columns %d and %d)", name, clip(h), k+1, j+1)
		}
		index[h] = j
		cols[j] = h
	}
	target, ok := index[opt.Target]
	if !ok {
		return nil, fmt.Errorf("data: %s:1: no target column %q; the header has columns %s", name, clip(opt.Target), quoteList(cols))
	}
	var feat []int
	if len(opt.Features) == 0 {
		for j := range cols {
			if j != target {
				feat = append(feat, j)
			}
		}
	} else {
		seen := make(map[string]bool, len(opt.Features))
		for _, f := range opt.Features {
			j, ok := index[f]
			switch {
			case !ok:
				return nil, fmt.Errorf("data: %s:1: no feature column %q; the header has columns %s", name, clip(f), quoteList(cols))
			case j == target:
				return nil, fmt.Errorf("data: %s: column %q is both the target and a feature", name, clip(f))
			case seen[f]:
				return nil, fmt.Errorf("data: %s: feature column %q listed twice", name, clip(f))
			}
			seen[f] = true
			feat = append(feat, j)
		}
	}
	if len(feat) == 0 {
		return nil, fmt.Errorf("data: %s: no feature columns (the header has only the target %q)", name, clip(opt.Target))
	}

	// Values go straight into chunked columns (no per-row allocation, no
	// growth copies); class labels are interned as first-appearance ids.
	// The only transient extra is the final copy into one flat slice, so
	// the peak is about twice the data, as MaxBytes documents.
	var (
		x      chunks[float32]
		y      chunks[float32] // regression
		labels chunks[int32]   // classification: ids in order of first appearance
		cs     classSet
		rows   int
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(cols) {
			return nil, fmt.Errorf("data: %s:%d: row has %d cells, the header has %d columns", name, line, len(rec), len(cols))
		}
		for _, j := range feat {
			v, err := parseValue(rec[j])
			if err != nil {
				l, _ := cr.FieldPos(j)
				return nil, fmt.Errorf("data: %s:%d: column %q: %q %v", name, l, clip(cols[j]), clip(rec[j]), err)
			}
			x.add(v)
		}
		if opt.Task == framework.Regression {
			v, err := parseValue(rec[target])
			if err != nil {
				l, _ := cr.FieldPos(target)
				return nil, fmt.Errorf("data: %s:%d: column %q (regression target): %q %v", name, l, clip(cols[target]), clip(rec[target]), err)
			}
			y.add(v)
		} else {
			s := strings.TrimSpace(rec[target])
			if s == "" {
				l, _ := cr.FieldPos(target)
				return nil, fmt.Errorf("data: %s:%d: column %q: empty class label", name, l, clip(cols[target]))
			}
			labels.add(cs.id(s))
		}
		rows++
		if err := checkSize(name, int64(rows), int64(len(feat)), cs.bytes); err != nil {
			line, _ := cr.FieldPos(0)
			return nil, fmt.Errorf("data: %s:%d: %w", name, line, err)
		}
	}
	if rows == 0 {
		return nil, fmt.Errorf("data: %s: no data rows after the header", name)
	}

	d := &framework.Dataset{
		Name: name,
		Task: opt.Task,
		X:    &mat.Matrix{Rows: rows, Cols: len(feat), Data: x.flat()},
	}
	d.Features = make([]string, len(feat))
	for i, j := range feat {
		d.Features[i] = cols[j]
	}
	if opt.Task == framework.Regression {
		d.Y = &mat.Matrix{Rows: rows, Cols: 1, Data: y.flat()}
	} else {
		d.Labels = labels.flat()
		d.Classes = cs.encode(d.Labels)
	}
	return d, nil
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
