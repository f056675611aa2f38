package bench

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository's top folder, seen from this package.
const root = ".."

// trackedFiles lists the repository's files: in a git checkout the tracked
// ones and the new ones not ignored, else every file under root but .git.
func trackedFiles(t *testing.T) []string {
	if out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output(); err == nil && len(out) > 0 {
		return strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestRepositoryStandsAlone checks that a clone has everything the
// repository refers to: no file points into the shared folder beside the
// working copy, where the project's notes and reference scripts once lived,
// and every Python script README.md names is in the repository, the two
// yardsticks that scripts/bench.py compares `sweep bench` with among them.
func TestRepositoryStandsAlone(t *testing.T) {
	// Spelled in two pieces so that this file does not match itself.
	outside := [][]byte{[]byte(".." + "/shared"), []byte("/work" + "/shared")}
	for _, f := range trackedFiles(t) {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			if os.IsNotExist(err) { // deleted in the work tree, not yet committed
				continue
			}
			t.Fatal(err)
		}
		for _, needle := range outside {
			if i := bytes.Index(b, needle); i >= 0 {
				t.Errorf("%s:%d: refers to %s, which a clone does not have", f, bytes.Count(b[:i], []byte("\n"))+1, needle)
			}
		}
	}

	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile(`[A-Za-z0-9_./-]+\.py\b`).FindAllString(string(readme), -1) {
		candidates := []string{m}
		if !strings.Contains(m, "/") { // a bare name: a script in bench/ or scripts/
			candidates = []string{filepath.Join("bench", m), filepath.Join("scripts", m)}
		}
		found := ""
		for _, c := range candidates {
			if !filepath.IsLocal(c) { // outside the repository, if it exists at all
				continue
			}
			if st, err := os.Stat(filepath.Join(root, c)); err == nil && st.Mode().IsRegular() {
				found = c
			}
		}
		if found == "" {
			t.Errorf("README.md names %s, which the repository does not have", m)
		}
		named[found] = true
	}
	for _, y := range []string{"bench/torch_mlp.py", "bench/numpy_mlp.py", "scripts/bench.py"} {
		if !named[y] {
			t.Errorf("README.md does not describe %s", y)
		}
	}
}
