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

	var (
		x      []float32
		y      []float32 // regression
		labels []string  // classification, raw
		rows   int
		// labels are interned: a field shares its record's memory, which
		// a label must not keep alive
		interned = map[string]string{}
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
			x = append(x, v)
		}
		if opt.Task == framework.Regression {
			v, err := parseValue(rec[target])
			if err != nil {
				l, _ := cr.FieldPos(target)
				return nil, fmt.Errorf("data: %s:%d: column %q (regression target): %q %v", name, l, clip(cols[target]), clip(rec[target]), err)
			}
			y = append(y, v)
		} else {
			s := strings.TrimSpace(rec[target])
			if s == "" {
				l, _ := cr.FieldPos(target)
				return nil, fmt.Errorf("data: %s:%d: column %q: empty class label", name, l, clip(cols[target]))
			}
			if k, ok := interned[s]; ok {
				s = k
			} else {
				s = strings.Clone(s)
				interned[s] = s
			}
			labels = append(labels, s)
		}
		rows++
		if err := CheckSize(name, int64(rows), int64(len(feat))); err != nil {
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
		X:    &mat.Matrix{Rows: rows, Cols: len(feat), Data: x},
	}
	d.Features = make([]string, len(feat))
	for i, j := range feat {
		d.Features[i] = cols[j]
	}
	if opt.Task == framework.Regression {
		d.Y = &mat.Matrix{Rows: rows, Cols: 1, Data: y}
	} else {
		d.Labels, d.Classes = encodeLabels(labels)
	}
	return d, nil
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

// encodeLabels maps raw class names to indices: sorted numerically if all
// are integers, else in order of first appearance.
func encodeLabels(raw []string) ([]int32, []string) {
	labels := make([]int32, len(raw))
	ints := make([]int64, len(raw))
	allInt := true
	for i, s := range raw {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			allInt = false
			break
		}
		ints[i] = v
	}
	if allInt {
		var distinct []int64
		seen := map[int64]bool{}
		for _, v := range ints {
			if !seen[v] {
				seen[v] = true
				distinct = append(distinct, v)
			}
		}
		slices.Sort(distinct)
		idx := make(map[int64]int32, len(distinct))
		classes := make([]string, len(distinct))
		for i, v := range distinct {
			idx[v] = int32(i)
			classes[i] = strconv.FormatInt(v, 10)
		}
		for i, v := range ints {
			labels[i] = idx[v]
		}
		return labels, classes
	}
	idx := map[string]int32{}
	var classes []string
	for i, s := range raw {
		k, ok := idx[s]
		if !ok {
			k = int32(len(classes))
			idx[s] = k
			classes = append(classes, s)
		}
		labels[i] = k
	}
	return labels, classes
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
