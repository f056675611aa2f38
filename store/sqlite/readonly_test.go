package sqlite

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gradsweep/gradsweep/framework"
)

// OpenReadOnly reads what Open wrote without writing: no owners folder,
// no migration, writes refused with ErrReadOnly; a dead owner's running
// trial reads as interrupted and its stale lock file stays.
func TestOpenReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro.db")
	info := sweepInfo("ro", "h")
	plans := makePlans(info.Name, 4)
	s := openStore(t, path)
	if err := s.PrepareSweep(info, plans, false); err != nil {
		t.Fatal(err)
	}
	finish(s, &plans[0], framework.Completed, 1)
	if _, err := s.w.Exec(`UPDATE trials SET state = 'running', owner = 'dead01' WHERE idx = 1`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(path+".owners", "dead01.lock")
	if err := os.WriteFile(stale, []byte("pid 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	states, err := r.TrialStates(info.Name)
	if err != nil {
		t.Fatal(err)
	}
	if states[plans[0].ID] != framework.Completed || states[plans[1].ID] != framework.Interrupted {
		t.Errorf("states read back: %v", states)
	}
	if err := r.PrepareSweep(sweepInfo("new", "h"), makePlans("new", 1), false); !errors.Is(err, ErrReadOnly) {
		t.Errorf("PrepareSweep on a read-only store: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(path + ".owners"); len(entries) != 1 || entries[0].Name() != "dead01.lock" {
		t.Errorf("owners folder after a read-only open: %v (want the stale lock alone)", entries)
	}
	if err := os.RemoveAll(path + ".owners"); err != nil {
		t.Fatal(err)
	}
	if r, err = OpenReadOnly(path); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ListSweeps(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := os.Lstat(path + ".owners"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenReadOnly created the owners folder (%v)", err)
	}

	// an older schema is not migrated: the message says how to upgrade
	conn, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(`PRAGMA user_version = 2`); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if _, err := OpenReadOnly(path); !errors.Is(err, ErrSchemaVersion) || !strings.Contains(err.Error(), "sweep run") {
		t.Errorf("older schema: %v", err)
	}
	if v := userVersion(t, path); v != 2 {
		t.Errorf("OpenReadOnly migrated the file to version %d", v)
	}
	if _, err := OpenReadOnly(filepath.Join(t.TempDir(), "missing.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func userVersion(t *testing.T, path string) int {
	t.Helper()
	conn, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var v int
	if err := conn.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A database that cannot be created names the real cause, not SQLite's
// "no such file or directory".
func TestOpenNamesTheCause(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(filepath.Join(dir, "file", "x.db"))
	if !errors.Is(err, syscall.ENOTDIR) || !strings.Contains(err.Error(), "cannot create the database") {
		t.Errorf("parent is a file: %v", err)
	}
	if os.Geteuid() == 0 {
		t.Skip("root ignores folder permissions (cmd/sweep's TestReadCommandsOpenReadOnly covers a read-only folder with chattr)")
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(ro, "x.db")); !errors.Is(err, syscall.EACCES) {
		t.Errorf("read-only folder: %v", err)
	}
}

// Merge inputs are checked before anything is written: a FIFO is refused
// without being opened, and two inputs with one sweep under two config
// hashes are refused.
func TestCheckMergeInputs(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.db")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckMergeInputs([]string{fifo}); !errors.Is(err, ErrMergeRefused) {
		t.Errorf("FIFO: %v", err)
	}
	mk := func(name, hash string) string {
		path := filepath.Join(dir, name)
		s := openStore(t, path)
		if err := s.PrepareSweep(sweepInfo("x", hash), makePlans("x", 2), false); err != nil {
			t.Fatal(err)
		}
		s.Close()
		return path
	}
	a, b := mk("a.db", "h1"), mk("b.db", "h2")
	if _, err := CheckMergeInputs([]string{a, b}); !errors.Is(err, ErrConfigChanged) || !strings.Contains(err.Error(), "a.db") {
		t.Errorf("two config hashes: %v", err)
	}
	if _, err := CheckMergeInputs([]string{a, a}); err != nil {
		t.Errorf("same input twice: %v", err)
	}
}
