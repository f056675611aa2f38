package data

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gradsweep/gradsweep/framework"
)

// Limits on what a data source may hold, so that no input, however
// hostile, makes loading allocate without bound. They are variables only
// so that tests can lower them.
var (
	// MaxBytes bounds a data set's size in memory: 4 bytes per feature
	// value and per target, plus, for a CSV table, each distinct class
	// label's bytes and labelOverhead. Loading and splitting may briefly
	// hold about twice that.
	MaxBytes int64 = 4 << 30
	// MaxLineBytes bounds one CSV record (the header included).
	MaxLineBytes = 1 << 20
	// MaxInputBytes bounds the bytes a CSV source may hold after
	// decompression.
	MaxInputBytes int64 = 8 << 30
)

// Limits of an MNIST-like IDX file: images at most MaxImageSide pixels on
// a side.
const MaxImageSide = 1024

// maxDeflateRatio is the largest expansion deflate allows (1032:1), so a
// gzip file of n bytes decompresses to at most n·1032 bytes.
const maxDeflateRatio = 1032

// CheckSize refuses a data set of rows samples with cols values each (plus
// one target) whose in-memory size would exceed MaxBytes. what names it.
func CheckSize(what string, rows, cols int64) error { return checkSize(what, rows, cols, 0) }

// checkSize is CheckSize counting extra bytes besides the values (the
// distinct class labels of a CSV table).
func checkSize(what string, rows, cols, extra int64) error {
	est := EstimateBytes(rows, cols)
	if est <= MaxBytes-extra {
		return nil
	}
	labels := ""
	if extra > 0 {
		labels = fmt.Sprintf(", plus about %s for its distinct class labels", FormatBytes(extra))
		est = min(est+extra, 1<<62)
	}
	return fmt.Errorf("%s would need about %s in memory (%d samples × %d values, 4 bytes each%s); the limit is %s",
		what, FormatBytes(est), rows, cols+1, labels, FormatBytes(MaxBytes))
}

// EstimateBytes is the in-memory size of rows samples of cols features and
// one target, saturating instead of overflowing.
func EstimateBytes(rows, cols int64) int64 {
	if rows <= 0 || cols < 0 {
		return 0
	}
	per := 4 * (cols + 1)
	if rows > (1<<62)/per {
		return 1 << 62
	}
	return rows * per
}

// FormatBytes writes a size in binary units, as framework.FormatBytes.
func FormatBytes(n int64) string { return framework.FormatBytes(float64(n)) }

// OpenRegular opens path for reading, refusing anything that is not a
// regular file (a FIFO, a device such as /dev/zero, a directory, a
// socket): reading those may block forever or never end. A symbolic link
// is followed.
func OpenRegular(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Op = "open" // what the caller asked for, as os.Open would say
		}
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, fileKind(st.Mode()))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	// the file may have been replaced between Stat and Open
	if st, err = f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s is not a regular file (%s)", path, fileKind(st.Mode()))
		}
		return nil, err
	}
	return f, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

// clip shortens s for an error message: a cell or a header of megabytes
// must not end up whole in it.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// limitedReader fails with errTooBig once more than n bytes were read, and
// with errLineTooLong when a record (a line, or lines joined by a quoted
// field) grows past maxLine bytes. Quotes are tracked so that a newline
// inside a quoted field does not end the record.
type limitedReader struct {
	r        io.Reader
	n        int64 // bytes left
	maxLine  int
	line     int // bytes of the current record so far
	quoted   bool
	lineNo   int // 1-based line of the current record's start, for messages
	physical int // physical lines read
}

type errLineTooLong struct{ line, max int }

func (e *errLineTooLong) Error() string {
	return fmt.Sprintf("a record longer than %s (the limit of a CSV line, header included)", FormatBytes(int64(e.max)))
}

type errTooBig struct{ max int64 }

func (e *errTooBig) Error() string {
	return fmt.Sprintf("more than %s of CSV text (the limit, after decompression)", FormatBytes(e.max))
}

func newLimitedReader(r io.Reader) *limitedReader {
	return &limitedReader{r: r, n: MaxInputBytes, maxLine: MaxLineBytes, lineNo: 1, physical: 1}
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, &errTooBig{MaxInputBytes}
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	for i, b := range p[:k] {
		l.line++
		switch b {
		case '"':
			l.quoted = !l.quoted
		case '\n':
			l.physical++
			if !l.quoted {
				l.line, l.lineNo = 0, l.physical
			}
		}
		if l.line > l.maxLine {
			return i, &errLineTooLong{l.lineNo, l.maxLine}
		}
	}
	return k, err
}

// quoteList quotes names for a message, at most 20 of them, each clipped.
func quoteList(s []string) string {
	const most = 20
	q := make([]string, 0, min(len(s), most)+1)
	for _, v := range s[:min(len(s), most)] {
		q = append(q, strconv.Quote(clip(v)))
	}
	if len(s) > most {
		q = append(q, fmt.Sprintf("… (%d columns)", len(s)))
	}
	return strings.Join(q, ", ")
}

// inDir resolves a path written in an experiment file: relative to dir,
// the file's folder.
func inDir(dir, path string) string {
	if filepath.IsAbs(path) || dir == "" {
		return path
	}
	return filepath.Join(dir, path)
}
