package sweep_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradsweep/gradsweep/framework/data/datatest"

	"github.com/gradsweep/gradsweep/framework"
	"github.com/gradsweep/gradsweep/framework/experiment"
	"github.com/gradsweep/gradsweep/framework/sweep"
	"github.com/gradsweep/gradsweep/store/sqlite"
)

// writeGzIDX writes a gzipped IDX file (datatest.WriteIDX) or fails the test.
func writeGzIDX(t *testing.T, path string, magic uint32, dims []uint32, payload []byte) {
	t.Helper()
	if err := datatest.WriteIDX(path, magic, dims, payload); err != nil {
		t.Fatal(err)
	}
}

// The MNIST files a sweep reads, from `mnist: DIR` or from $MNIST_DIR
// with `mnist: auto`, are part of its data identity: a resume after one of
// them changed is refused, naming the file.
func TestMNISTFilesAreTheSweepsData(t *testing.T) {
	dir := t.TempDir()
	const n = 40
	writeMNIST := func(labelShift byte) {
		pix := make([]byte, n*4*4)
		for i := range pix {
			pix[i] = byte(i * 7)
		}
		lbl := make([]byte, n)
		for i := range lbl {
			lbl[i] = (byte(i) + labelShift) % 10
		}
		for _, split := range []string{"train", "t10k"} { // $MNIST_DIR must hold both splits
			writeGzIDX(t, filepath.Join(dir, split+"-images-idx3-ubyte.gz"), 0x803, []uint32{n, 4, 4}, pix)
			writeGzIDX(t, filepath.Join(dir, split+"-labels-idx1-ubyte.gz"), 0x801, []uint32{n}, lbl)
		}
	}
	writeMNIST(0)
	db := filepath.Join(t.TempDir(), "sweeps.db")
	for _, source := range []string{dir, "auto"} {
		t.Setenv("MNIST_DIR", dir)
		text := `name: mnist-` + filepath.Base(source) + `
dataset: {mnist: ` + source + `, limit: 30}
model:
  - {type: dense, units: 10}
loss: cross_entropy
training: {learning_rate: 0.1, batch_size: 10, epochs: 1}
`
		prep := func() *sweep.Prepared {
			e, err := experiment.Parse([]byte(text), filepath.Join(dir, "mnist.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := sweep.Prepare(e, framework.Default())
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		id := prep().Info().DataID
		lines := strings.Split(id, "\n")
		if len(lines) != 2 || !strings.HasSuffix(lines[0], filepath.Join(dir, "train-images-idx3-ubyte.gz")) ||
			!strings.HasSuffix(lines[1], filepath.Join(dir, "train-labels-idx1-ubyte.gz")) {
			t.Fatalf("mnist: %s: data identity %q", source, id)
		}
		st, err := sqlite.Open(db)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sweep.Run(t.Context(), prep(), sweep.Options{Workers: 1, Store: st}); err != nil {
			t.Fatal(err)
		}
		writeMNIST(1)
		_, err = sweep.Run(t.Context(), prep(), sweep.Options{Workers: 1, Store: st})
		if !errors.Is(err, sqlite.ErrConfigChanged) ||
			!strings.Contains(err.Error(), "data file "+filepath.Join(dir, "train-labels-idx1-ubyte.gz")+" changed since the sweep was stored") {
			t.Fatalf("mnist: %s: labels rewritten: %v", source, err)
		}
		writeMNIST(0)
		if _, err := sweep.Run(t.Context(), prep(), sweep.Options{Workers: 1, Store: st}); err != nil {
			t.Fatalf("mnist: %s: the same files again: %v", source, err)
		}
		st.Close()
	}
}
