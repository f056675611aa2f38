// Package sqlite stores sweeps in one SQLite file: sweeps, their trials,
// per-epoch metrics and batch losses (see SCHEMA.md).
//
// Several processes may run the same sweep on one file: each claims trials
// with Claim, and a trial left running by a process that died (even by
// kill -9) becomes claimable again. A Store is a framework.Sink; its writes
// go through one writer goroutine that batches them in transactions, and
// reads use a separate connection pool, so reports can read while a run
// writes.
package sqlite

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gradsweep/gradsweep/framework"
	sqlite3 "github.com/mattn/go-sqlite3"
)

// ErrNotFound is wrapped by errors for an unknown sweep or trial.
var ErrNotFound = errors.New("not found")

// ErrConfigChanged is wrapped by PrepareSweep's error when the sweep was
// stored with another config hash or other data files, by Claim's when
// another process replaced the sweep (--force) meanwhile, and by Merge's
// for a source sweep of another experiment or other data.
var ErrConfigChanged = errors.New("sweep config changed")

// ErrSweepBusy is wrapped by the error of a PrepareSweep with force, or of
// a ClaimAll, while another live process holds trials of the sweep.
var ErrSweepBusy = errors.New("sweep is being run by another process")

const (
	busyTimeout = 10 * time.Second
	flushEvery  = 150 * time.Millisecond
	maxBatch    = 1024 // ops per writer transaction
	// queueLen bounds the writes queued for the writer. An op is a trial's
	// event or a second's (or chunkPoints') worth of its series, so even
	// trials that finish thousands a second fill it only while a commit
	// runs; a longer queue costs memory the garbage collector scans.
	queueLen  = 4096
	readConns = 4
	// writeStmtCache is how many prepared statements the write connection
	// keeps for reuse (the driver's LRU cache): a trial's writes are a
	// handful of statements, each of which would otherwise be compiled
	// again every time.
	writeStmtCache = 64
)

// ErrSchemaVersion is wrapped by the error for a file whose schema version
// this gradsweep cannot use as it is (newer, or older where nothing may
// be migrated).
var ErrSchemaVersion = errors.New("schema version")

// schemaError is an error that is ErrSchemaVersion, with its own text.
type schemaError struct{ msg string }

func (e schemaError) Error() string        { return e.msg }
func (e schemaError) Is(target error) bool { return target == ErrSchemaVersion }

// ErrReadOnly is wrapped by the error of a write to a Store opened with
// OpenReadOnly.
var ErrReadOnly = errors.New("store opened read-only")

// Store is one SQLite file holding every sweep. It is safe for concurrent
// use. Open it with Open (or OpenReadOnly) and Close it when done.
type Store struct {
	path     string
	w        *sql.DB // one connection: every write of this process (nil when read-only)
	r        *sql.DB // read pool (query_only)
	owner    string
	readOnly bool // opened with OpenReadOnly: no writer, no owner lock

	ownersDir string
	lock      *os.File // our owner lock, flocked until Close
	lockPath  string

	mu     sync.RWMutex // guards closed against sends on ops
	closed bool
	ops    chan op
	done   chan struct{} // closed when the writer goroutine ends

	errMu sync.Mutex
	err   error // first write error

	// Claim's trials claimed ahead, per sweep, and how many the next
	// claim transaction takes.
	claimMu  sync.Mutex
	ahead    map[string][]framework.TrialPlan
	prepared map[string]map[string]*framework.TrialPlan // per sweep, by id: the plans PrepareSweep stored
	// per sweep, what PrepareSweep stored it as: a claim checks the sweep
	// still is that, not replaced by another process's --force
	identity   map[string]sweepIdentity
	claimBatch int
	lastClaim  time.Time

	recMu      sync.Mutex
	recordings map[string]*recording // per trial being recorded

	jsonBuf []byte // the writer's scratch space for batch-loss JSON

	// Claim's statements, prepared once.
	claimNext, otherOwners *sql.Stmt

	// The writer connection does not checkpoint the WAL (a checkpoint's
	// fsync inside a commit held up claims for tens of ms); checkpointer
	// does it in the background, on its own connection, in PASSIVE mode,
	// which never blocks the writer.
	ckpt     *sql.DB
	ckptStop chan struct{}
	ckptDone chan struct{}

	now func() time.Time
}

func dsn(path string, params ...string) string {
	return path + "?" + strings.Join(params, "&")
}

// Open opens (creating if needed) the store at path: WAL journal,
// synchronous=NORMAL, foreign keys on, a 10 s busy timeout. It migrates an
// older schema and refuses a file written by a newer gradsweep or one that
// is not a SQLite database. It creates <path>.owners/<owner>.lock and holds
// a lock on it until Close: that is how other processes tell this one is
// alive.
func Open(path string) (*Store, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if err := create(path); err != nil {
		return nil, err
	}
	ms := int(busyTimeout / time.Millisecond)
	w, err := sql.Open("sqlite3", dsn(path,
		fmt.Sprintf("_busy_timeout=%d", ms), "_synchronous=NORMAL",
		"_foreign_keys=on", "_txlock=immediate", fmt.Sprintf("_stmt_cache_size=%d", writeStmtCache)))
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	s := &Store{path: path, w: w, recordings: map[string]*recording{},
		ahead: map[string][]framework.TrialPlan{}, prepared: map[string]map[string]*framework.TrialPlan{},
		identity: map[string]sweepIdentity{}, now: time.Now}
	fail := func(err error) (*Store, error) {
		if s.ckptStop != nil {
			close(s.ckptStop)
			<-s.ckptDone
		}
		w.Close()
		if s.r != nil {
			s.r.Close()
		}
		return nil, err
	}
	if err := w.Ping(); err != nil {
		return fail(openError(path, err))
	}
	mode, err := walMode(w)
	if err != nil {
		return fail(openError(path, err))
	}
	if !strings.EqualFold(mode, "wal") {
		return fail(fmt.Errorf("sqlite store %s: journal mode is %q, WAL could not be enabled", path, mode))
	}
	if err := s.migrate(); err != nil {
		return fail(err)
	}
	s.r, err = sql.Open("sqlite3", dsn(path, fmt.Sprintf("_busy_timeout=%d", ms), "_query_only=on", "_txlock=deferred"))
	if err != nil {
		return fail(fmt.Errorf("sqlite store %s: %w", path, err))
	}
	s.r.SetMaxOpenConns(readConns) // connected on first read: a run may never read
	s.r.SetMaxIdleConns(readConns)
	if err := s.takeOwnerLock(); err != nil {
		return fail(err)
	}
	if _, err := w.Exec(`PRAGMA wal_autocheckpoint = 0`); err != nil {
		return fail(fmt.Errorf("sqlite store %s: %w", path, err))
	}
	if s.ckpt, err = sql.Open("sqlite3", dsn(path, fmt.Sprintf("_busy_timeout=%d", ms))); err != nil {
		return fail(fmt.Errorf("sqlite store %s: %w", path, err))
	}
	s.ckpt.SetMaxOpenConns(1)
	s.ckptStop, s.ckptDone = make(chan struct{}), make(chan struct{})
	go s.checkpointer()
	if s.claimNext, err = w.Prepare(qClaimNext); err != nil {
		return fail(fmt.Errorf("sqlite store %s: %w", path, err))
	}
	if s.otherOwners, err = w.Prepare(qOtherOwners); err != nil {
		return fail(fmt.Errorf("sqlite store %s: %w", path, err))
	}
	s.ops = make(chan op, queueLen)
	s.done = make(chan struct{})
	go s.writer()
	return s, nil
}

// checkPath refuses a path that is empty, not a plain file path, a
// folder, or anything else that is not a regular file.
func checkPath(path string) error {
	if path == "" {
		return errors.New("sqlite store: empty path")
	}
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return fmt.Errorf("sqlite store %q: a plain file path without '?' or '#' is needed", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("sqlite store %s: is a directory, not a SQLite database", path)
	} else if err == nil && !fi.Mode().IsRegular() {
		// a FIFO would block the open, a device is no database
		return fmt.Errorf("sqlite store %s: %w (%s)", path, ErrNotRegularFile, fi.Mode().Type())
	}
	return nil
}

// ErrNotRegularFile is wrapped by Open's and OpenReadOnly's error for a
// path that exists but is not a regular file (a FIFO, a device, a socket).
var ErrNotRegularFile = errors.New("not a regular file")

// create makes an empty file at path if there is none (SQLite takes an
// empty file for an empty database), so that a folder where it cannot be
// created is reported with the real cause ("permission denied", "not a
// directory"): SQLite's own message is "unable to open database file" with
// the error of its last attempt, often "no such file or directory".
func create(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err == nil {
		return f.Close()
	}
	if _, serr := os.Stat(path); serr == nil {
		return nil // it exists: SQLite reports what it cannot do with it
	}
	return fmt.Errorf("sqlite store %s: cannot create the database: %w", path, err)
}

// OpenReadOnly opens the existing store at path for reading only, as the
// commands that only read (list, show, best, export, report) do: SQLite's
// mode=ro, no owner lock (nothing is created in <path>.owners/), no
// checkpointer, nothing migrated. It works in a folder or on a file it may
// not write. A file whose schema is older than this gradsweep's is refused
// with a message saying how to upgrade it (migrating is a write). Writes
// to the Store fail with ErrReadOnly.
func OpenReadOnly(path string) (*Store, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	params := []string{"mode=ro", fmt.Sprintf("_busy_timeout=%d", int(busyTimeout/time.Millisecond)), "_query_only=on", "_txlock=deferred"}
	uri := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?"
	r, err := sql.Open("sqlite3", uri+strings.Join(params, "&"))
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	var v, objects int
	err = r.QueryRow("PRAGMA user_version").Scan(&v)
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrCantOpen {
		// A WAL file is read through its -shm index, which SQLite cannot
		// create in a folder it may not write. Without a -wal file no
		// process is writing (a writer would have had to create it), so
		// the file is opened as immutable: read without any index.
		if _, werr := os.Lstat(path + "-wal"); errors.Is(werr, os.ErrNotExist) {
			r.Close()
			if r, err = sql.Open("sqlite3", uri+strings.Join(append(params, "immutable=1"), "&")); err != nil {
				return nil, fmt.Errorf("sqlite store %s: %w", path, err)
			}
			err = r.QueryRow("PRAGMA user_version").Scan(&v)
		}
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	if err == nil && v == 0 {
		err = r.QueryRow("SELECT count(*) FROM sqlite_schema").Scan(&objects)
	}
	switch {
	case err != nil:
		err = openError(path, err)
	case v > len(migrations):
		err = schemaError{fmt.Sprintf("sqlite store %s: schema version %d is newer than this gradsweep knows (%d): use a newer gradsweep",
			path, v, len(migrations))}
	case v == 0 && objects > 0:
		err = fmt.Errorf("sqlite store %s: a SQLite database that is not a gradsweep store (user_version 0, %d schema objects)", path, objects)
	case v == 0:
		err = fmt.Errorf("sqlite store %s: an empty database, no sweep stored", path)
	case v < len(migrations):
		err = schemaError{fmt.Sprintf("sqlite store %s: schema version %d is older than this gradsweep's (%d) and this command only reads: "+
			"upgrade the file once with a command that writes ('sweep run' of one of its experiments)",
			path, v, len(migrations))}
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return &Store{path: path, r: r, readOnly: true, ownersDir: path + ".owners", now: time.Now,
		recordings: map[string]*recording{}, ahead: map[string][]framework.TrialPlan{},
		prepared: map[string]map[string]*framework.TrialPlan{}}, nil
}

// walMode switches the file to WAL (a no-op once it is) and returns the
// journal mode it is in. The switch takes an exclusive lock that SQLite
// does not wait for (no busy handler): processes creating the same file at
// once would get "database is locked", so it is retried (retryBusy).
func walMode(w *sql.DB) (mode string, err error) {
	err = retryBusy(func() error { return w.QueryRow("PRAGMA journal_mode = WAL").Scan(&mode) })
	return mode, err
}

func openError(path string, err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt) {
		return fmt.Errorf("sqlite store %s: not a SQLite database (or corrupt): %w", path, err)
	}
	return fmt.Errorf("sqlite store %s: %w", path, err)
}

// migrate brings the schema to SchemaVersion in one transaction, or
// refuses a newer one.
func (s *Store) migrate() error {
	tx, err := s.w.Begin()
	if err != nil {
		return openError(s.path, err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		return openError(s.path, err)
	}
	if v > len(migrations) {
		return fmt.Errorf("sqlite store %s: schema version %d is newer than this gradsweep knows (%d): use a newer gradsweep",
			s.path, v, len(migrations))
	}
	if v == len(migrations) {
		return nil
	}
	if v == 0 {
		// A fresh file, or someone else's database.
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
			return openError(s.path, err)
		}
		if n > 0 {
			return fmt.Errorf("sqlite store %s: a SQLite database that is not a gradsweep store (user_version 0, %d schema objects)", s.path, n)
		}
	}
	for ; v < len(migrations); v++ {
		m := migrations[v]
		_, err := tx.Exec(m.sql)
		if err == nil && m.data != nil {
			err = m.data(tx)
		}
		if err != nil {
			return fmt.Errorf("sqlite store %s: migration to schema version %d: %w", s.path, v+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			return fmt.Errorf("sqlite store %s: %w", s.path, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite store %s: migration commit: %w", s.path, err)
	}
	return nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Owner is this Store's owner id: random hex made at Open, written in the
// owner column of the trials it claims or runs.
func (s *Store) Owner() string { return s.owner }

// takeOwnerLock creates <path>.owners/<owner>.lock with an exclusive flock.
// The file is locked under a temporary name first and then renamed, so no
// other process ever sees it unlocked while we live.
func (s *Store) takeOwnerLock() error {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	s.owner = hex.EncodeToString(b[:])
	s.ownersDir = s.path + ".owners"
	if err := os.MkdirAll(s.ownersDir, 0o755); err != nil {
		return fmt.Errorf("sqlite store %s: owner locks: %w", s.path, err)
	}
	s.lockPath = filepath.Join(s.ownersDir, s.owner+".lock")
	tmp := s.lockPath + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("sqlite store %s: owner lock: %w", s.path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sqlite store %s: owner lock: %w", s.path, err)
	}
	fmt.Fprintf(f, "pid %d\n", os.Getpid())
	if err := os.Rename(tmp, s.lockPath); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sqlite store %s: owner lock: %w", s.path, err)
	}
	s.lock = f
	return nil
}

// ownerAlive reports whether the owner holds its lock. An owner whose lock
// file is missing or can be locked is dead; its stale file is removed.
// A read-only Store opens the lock read-only and leaves a stale file in
// place.
func (s *Store) ownerAlive(owner string) bool {
	if owner == "" || strings.Trim(owner, "0123456789abcdef") != "" {
		return false
	}
	if owner == s.owner {
		return true
	}
	p := filepath.Join(s.ownersDir, owner+".lock")
	flag := os.O_RDWR
	if s.readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(p, flag, 0)
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		// EWOULDBLOCK: held by a live process. Any other error: assume
		// alive rather than steal a running trial.
		return true
	}
	if !s.readOnly {
		os.Remove(p)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// liveness caches ownerAlive for one operation.
type liveness struct {
	s     *Store
	known map[string]bool
}

func (s *Store) liveness() *liveness { return &liveness{s: s, known: map[string]bool{}} }

func (l *liveness) alive(owner string) bool {
	a, ok := l.known[owner]
	if !ok {
		a = l.s.ownerAlive(owner)
		l.known[owner] = a
	}
	return a
}

// Close flushes pending writes, marks the trials this Store still has
// running as interrupted, closes the database and releases the owner lock.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.readOnly {
		s.mu.Unlock()
		return s.r.Close()
	}
	close(s.ops)
	s.mu.Unlock()
	<-s.done
	err := s.Err()
	if e := s.releaseAhead("", true); e != nil && err == nil {
		err = fmt.Errorf("sqlite store %s: close: %w", s.path, e)
	}
	if _, e := s.w.Exec(`UPDATE trials SET state = 'interrupted' WHERE state = 'running' AND owner = ?`, s.owner); e != nil && err == nil {
		err = fmt.Errorf("sqlite store %s: close: %w", s.path, e)
	}
	close(s.ckptStop)
	<-s.ckptDone
	// fold the WAL into the database file before leaving
	if _, e := s.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); e != nil && err == nil {
		err = fmt.Errorf("sqlite store %s: checkpoint: %w", s.path, e)
	}
	if e := s.r.Close(); e != nil && err == nil {
		err = e
	}
	for _, st := range []*sql.Stmt{s.claimNext, s.otherOwners} {
		if st != nil {
			st.Close()
		}
	}
	if e := s.w.Close(); e != nil && err == nil {
		err = e
	}
	os.Remove(s.lockPath)
	s.lock.Close()
	return err
}

// checkpointEvery is how often the background checkpointer copies the
// WAL into the database file.
const checkpointEvery = 2 * time.Second

func (s *Store) checkpointer() {
	defer close(s.ckptDone)
	defer s.ckpt.Close()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ckptStop:
			return
		case <-t.C:
			s.ckpt.Exec(`PRAGMA wal_checkpoint(PASSIVE)`) // best effort; Close truncates
		}
	}
}

// Err is the first error of an asynchronous write (Sink methods), if any.
func (s *Store) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *Store) setErr(err error) {
	if err == nil {
		return
	}
	s.errMu.Lock()
	if s.err == nil {
		s.err = fmt.Errorf("sqlite store %s: %w", s.path, err)
	}
	s.errMu.Unlock()
}
