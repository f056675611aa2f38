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

// Store is one SQLite file holding every sweep. It is safe for concurrent
// use. Open it with Open and Close it when done.
type Store struct {
	path  string
	w     *sql.DB // one connection: every write of this process
	r     *sql.DB // read pool (query_only)
	owner string

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
	if path == "" {
		return nil, errors.New("sqlite store: empty path")
	}
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("sqlite store %q: a plain file path without '?' or '#' is needed", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("sqlite store %s: is a directory, not a SQLite database", path)
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
func (s *Store) ownerAlive(owner string) bool {
	if owner == s.owner {
		return true
	}
	if owner == "" || strings.Trim(owner, "0123456789abcdef") != "" {
		return false
	}
	p := filepath.Join(s.ownersDir, owner+".lock")
	f, err := os.OpenFile(p, os.O_RDWR, 0)
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
	os.Remove(p)
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
