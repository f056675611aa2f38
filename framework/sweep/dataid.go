package sweep

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gradsweep/gradsweep/framework/experiment"
)

// dataID is the identity of the files the prepared sweep reads, as
// framework.SweepInfo.DataID: the init_from weights, then each data set's
// files in trial order. Built-in and generated data sets have none: the
// config determines them.
func (p *Prepared) dataID() (string, error) {
	var lines []string
	seen := map[string]bool{}
	add := func(path string) error {
		if seen[path] {
			return nil
		}
		seen[path] = true
		id, err := fileID(path)
		if err != nil {
			return err
		}
		lines = append(lines, id)
		return nil
	}
	e := p.Exp
	if e.InitFrom != "" {
		if err := add(e.InitFrom); err != nil {
			return "", &experiment.Error{File: e.File, Line: e.Line("init_from"), Key: "init_from", Msg: err.Error()}
		}
	}
	sets := map[string]bool{}
	for _, spec := range p.Specs {
		if key := spec.Dataset.Key(); !sets[key] {
			sets[key] = true
			files, err := spec.Dataset.Files(e.Seed)
			for _, f := range files {
				if err == nil {
					err = add(f)
				}
			}
			if err != nil {
				return "", &experiment.Error{File: e.File, Line: e.Line("dataset"), Key: "dataset", Msg: err.Error()}
			}
		}
	}
	return strings.Join(lines, "\n"), nil
}

// fileID is a file's line of a data identity: "<sha256 hex> <size> <path>",
// from the bytes of the whole file.
func fileID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return "", err
	} else if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", path)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return fmt.Sprintf("%x %d %s", h.Sum(nil), n, strings.ReplaceAll(path, "\n", `\n`)), nil
}
